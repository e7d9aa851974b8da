"""Fixtures for the HTJ2K tests: real images from the shared corpus and pydicom's test files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

#: Corpus images chosen for what they exercise (all listed in shared/corpus/INVENTORY.tsv).
CORPUS_IMAGES = {
    "ct16_signed": "cornerstone3D/CTImage.dcm",
    "mr12_unsigned_dirty_high_bits": "dcm_qa_12bit/In/12bitUnsigned_0x0F0F.dcm",
    "mr12_signed_dirty_high_bits": "dcm_qa_12bit/In/12bitSigned_0x0F0F.dcm",
    "ct16_signed_full_range": "dcm4che/dcm4che-test-data/src/main/resources/test16signed.dcm",
    "us_rgb8": "dcm4che/dcm4che-test-data/src/main/resources/US-RGB-8-esopecho",
    "nm16_13_frames": "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart",
    "dx8_monochrome1": "highdicom/dx_image.dcm",
}
#: pydicom's own test files (multi-frame, colour, 8/16-bit).
PYDICOM_IMAGES = ("CT_small.dcm", "MR_small.dcm", "emri_small.dcm", "SC_rgb.dcm", "SC_rgb_2frame.dcm")


@pytest.fixture(scope="session")
def shared() -> Path:
    from medcodec.testing import shared_dir

    found = shared_dir()
    if found is None:
        pytest.skip("the shared data folder (../shared/corpus) is not present")
    return found


@pytest.fixture(scope="session")
def real_dataset(shared: Path) -> Callable[[str], pydicom.Dataset]:
    """``real_dataset(key)``: a fresh Dataset of a corpus image (CORPUS_IMAGES key) or pydicom test file."""

    def load(key: str) -> pydicom.Dataset:
        if key in CORPUS_IMAGES:
            return pydicom.dcmread(shared / "corpus" / CORPUS_IMAGES[key])
        path = get_testdata_file(key)
        assert path is not None, f"pydicom test file {key} is missing"
        return pydicom.dcmread(path)

    return load


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "image_key" in metafunc.fixturenames:
        metafunc.parametrize("image_key", [*CORPUS_IMAGES, *PYDICOM_IMAGES])
