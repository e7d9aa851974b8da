"""Fixtures shared by the dct_teaching tests: where the shared data lives, and real images from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.data import get_testdata_file


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``/work/shared`` (corpus/, mmpc-golden/); the tests that need it skip when it is absent."""
    from medcodec.testing import shared_dir as find_shared_dir

    found = find_shared_dir()
    if found is None:
        pytest.skip("the shared data folder (../shared: corpus, mmpc-golden) is not present")
    return found


@pytest.fixture(scope="session")
def mmpc_golden(shared_dir: Path) -> Path:
    return shared_dir / "mmpc-golden"


def _pydicom_test_pixels(name: str) -> npt.NDArray[np.integer]:
    path = get_testdata_file(f"{name}.dcm")
    assert path is not None, f"pydicom test file {name}.dcm is missing"
    return pydicom.dcmread(path).pixel_array


@pytest.fixture(scope="session")
def pydicom_pixels() -> Callable[[str], npt.NDArray[np.integer]]:
    """``pydicom_pixels("CT_small")``: the pixels of one of pydicom's bundled test files."""
    return _pydicom_test_pixels


@pytest.fixture(scope="session")
def signed_ct(shared_dir: Path) -> pydicom.Dataset:
    """A real 512×512 signed CT slice whose field-of-view padding is -2000 (HU -3024 after rescale)."""
    return pydicom.dcmread(shared_dir / "corpus/cornerstone3D/CTImage.dcm")


@pytest.fixture(scope="session")
def full_range_signed(shared_dir: Path) -> pydicom.Dataset:
    """A real 16-bit signed image that uses the whole range -32768..32767 (bright blocks overflow int16 DCs)."""
    return pydicom.dcmread(shared_dir / "corpus/dcm4che/dcm4che-test-data/src/main/resources/test16signed.dcm")


@pytest.fixture(scope="session")
def nm_volume(shared_dir: Path) -> pydicom.Dataset:
    """A real 13-frame 64×64 NM volume (unsigned 16-bit)."""
    return pydicom.dcmread(shared_dir / "corpus/dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart")
