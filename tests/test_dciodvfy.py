"""Files medcodec writes pass dicom3tools' dciodvfy without new errors (the original is the baseline)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import medcodec
import pydicom
import pytest
from pydicom.data import get_testdata_file

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                reason="dciodvfy (Debian dicom3tools) is not installed")

SOURCES = ("CT_small.dcm", "MR_small.dcm", "US1_UNCR.dcm", "SC_rgb.dcm")
CODECS = {
    "jpeg_ls_lossless": {}, "jpeg_ls_near_lossless": {"jls_error": 2}, "jpeg2000_lossless": {},
    "jpeg2000": {"j2k_cr": [10]}, "rle_lossless": {},
    # Not "deflated_image_frame": Debian 12's dicom3tools predates that transfer syntax (2023) and fails with
    # "Dicom dataset read failed" on any such file; it is checked by our own decoder and the kit instead.
}


def _errors(path: Path) -> set[str]:
    done = subprocess.run(["dciodvfy", str(path)], check=False, capture_output=True, text=True, timeout=120)
    lines = (done.stdout + done.stderr).splitlines()
    return {line.strip() for line in lines if line.strip().startswith("Error")}


@pytest.mark.parametrize("source", SOURCES)
def test_no_new_dciodvfy_errors(source: str, tmp_path: Path) -> None:
    path = get_testdata_file(source)
    if path is None:
        pytest.skip(f"{source} is not available")
    original = pydicom.dcmread(path)
    baseline = tmp_path / "original.dcm"
    original.save_as(baseline, enforce_file_format=True)
    before = _errors(baseline)
    checked = 0
    for codec, options in CODECS.items():
        ds = copy.deepcopy(original)
        try:
            report = medcodec.compress(ds, codec, options=options)
        except (medcodec.UnsupportedImageError, medcodec.PolicyRefusedError):
            continue
        out = tmp_path / f"{codec}.dcm"
        ds.save_as(out, enforce_file_format=True)
        new = _errors(out) - before
        assert not new, f"{codec} ({'lossy' if report.lossy else 'lossless'}) on {source}: {sorted(new)}"
        checked += 1
    assert checked >= 3
