"""The RD study's metrics, checked against values that can be worked out by hand, and its ROI options."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from medcodec_plugin_dct_teaching import metrics
from medcodec_plugin_dct_teaching.rd import run_study


def test_rmse_psnr_and_max_error_by_hand() -> None:
    original = np.array([[0, 10], [20, 30]])
    decoded = np.array([[1, 10], [17, 30]])  # errors 1 and -3: MSE = 10/4
    assert metrics.rmse(original, decoded) == pytest.approx(math.sqrt(2.5))
    assert metrics.max_abs_error(original, decoded) == 3
    assert metrics.psnr(1.0, 255) == pytest.approx(48.1308, abs=1e-4)
    assert metrics.psnr(0.0, 255) == math.inf
    assert metrics.dynamic_range(original) == 30
    mask = np.array([[True, False], [False, False]])
    assert metrics.rmse(original, decoded, mask) == 1.0


def test_ssim_of_constant_images_matches_the_formula() -> None:
    # With no variance the structure term is 1 and SSIM = (2xy + c1) / (x^2 + y^2 + c1).
    x, y, data_range = 100.0, 110.0, 1000.0
    c1 = (metrics.SSIM_K1 * data_range) ** 2
    expected = (2 * x * y + c1) / (x * x + y * y + c1)
    assert metrics.ssim(np.full((16, 16), x), np.full((16, 16), y), data_range) == pytest.approx(expected)


def test_ssim_is_one_for_identity_and_drops_with_noise(signed_ct: pydicom.Dataset) -> None:
    image = signed_ct.pixel_array[128:256, 128:256].astype(np.float64)
    span = metrics.dynamic_range(image)
    assert metrics.ssim(image, image, span) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    small = metrics.ssim(image, image + rng.normal(0, 5, image.shape), span)
    large = metrics.ssim(image, image + rng.normal(0, 50, image.shape), span)
    assert 1.0 > small > large


def test_otsu_separates_padding_from_body(signed_ct: pydicom.Dataset) -> None:
    image = signed_ct.pixel_array
    threshold = metrics.otsu_threshold(image)
    assert -2000 < threshold < 900  # between the -2000 padding and soft tissue (~900-1100 stored)
    mask = metrics.body_mask(image)
    assert not mask[image == -2000].any() and mask.mean() > 0.5


def test_roi_box_and_threshold_reach_the_csv(tmp_path: Path, shared_dir: Path) -> None:
    source = shared_dir / "corpus/cornerstone3D/CTImage.dcm"
    box_rows = run_study([source], [30], tmp_path / "box", roi_box=(100, 200, 164, 232))
    assert {r.roi_pixels for r in box_rows} == {64 * 32}
    hu_rows = run_study([source], [30], tmp_path / "hu", roi_threshold=-500.0)  # HU, rescale intercept -1024
    stored = pydicom.dcmread(source).pixel_array
    assert hu_rows[0].roi_pixels == int((stored > -500 + 1024).sum())
    with (tmp_path / "hu" / "summary.csv").open() as handle:
        assert next(csv.DictReader(handle))["roi"] == "> -500 (modality units)"
    with pytest.raises(ValueError, match="outside the 512x512 image"):
        run_study([source], [30], tmp_path / "bad", roi_box=(0, 0, 600, 10))
