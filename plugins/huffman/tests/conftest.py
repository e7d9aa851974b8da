"""Shared fixtures: the real DICOM files the Huffman tool is tested on."""

from __future__ import annotations

from pathlib import Path

import pytest
from medcodec.testing import pydicom_test_files, shared_dir

NOT_DICOM = {"INVENTORY.tsv", "README.md"}


def corpus_files() -> list[Path]:
    """Every DICOM file of shared/corpus (the whole tree, not only what INVENTORY.tsv lists)."""
    shared = shared_dir()
    if shared is None:
        return []
    return sorted(p for p in (shared / "corpus").rglob("*") if p.is_file() and p.name not in NOT_DICOM)


@pytest.fixture(scope="session")
def corpus() -> list[Path]:
    found = corpus_files()
    if not found:
        pytest.skip("shared/corpus is not available")
    return found


@pytest.fixture(scope="session")
def pydicom_files() -> list[Path]:
    found = pydicom_test_files()
    if not found:
        pytest.skip("pydicom's test files are not available")
    return found


@pytest.fixture(scope="session")
def ct_file(corpus: list[Path]) -> Path:
    """A real uncompressed CT (Implicit VR LE, 16-bit): Huffman shrinks it (ratio about 1.45)."""
    return next(p for p in corpus if p.as_posix().endswith("cornerstone3D/CTImage.dcm"))


@pytest.fixture(scope="session")
def jpeg2000_file(corpus: list[Path]) -> Path:
    """A real JPEG 2000 lossless DICOM: its bytes are near-random, so Huffman would expand it (as the
    paper's CT-MONO2-16-chest case did) and it must be stored raw."""
    return next(p for p in corpus if p.as_posix().endswith("JPEG2000Lossless/TOSHIBA_J2K_SIZ1_PixRep0.dcm"))
