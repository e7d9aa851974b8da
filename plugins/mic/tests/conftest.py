"""Shared fixtures for the MIC plugin tests: the independent spec decoder and the test data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def shared_dir() -> Path | None:
    """/work/shared beside the repository (plain path logic: importing pydicom here is not wanted)."""
    candidate = (HERE.parents[2] / ".." / "shared").resolve()
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def spec_decoder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mic_spec_decoder", HERE / "mic_spec_decoder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    base = shared_dir()
    if base is None or not (base / "mic-golden").is_dir():
        pytest.skip("shared/mic-golden is not available")
    return base / "mic-golden"


GOLDEN_NAMES = ("MR", "CT", "CT2", "MR1", "MR4", "MR-MONO2-16-head")


def load_golden_image(golden: Path, name: str) -> np.ndarray:
    with_header = golden / f"{name}.pixels.raw"
    if with_header.exists():
        raw = with_header.read_bytes()
        width, height = np.frombuffer(raw[:8], "<u4")
        return np.frombuffer(raw[8:], "<u2").reshape(int(height), int(width)).astype(np.uint16)
    raw = (golden / f"{name}.pixels.raw.nohdr").read_bytes()
    side = 256 if len(raw) == 2 * 256 * 256 else 512
    return np.frombuffer(raw, "<u2").reshape(side, side).astype(np.uint16)


@pytest.fixture(scope="session")
def golden_images(golden_dir: Path) -> dict[str, np.ndarray]:
    """The reference's source images (uint16, signed data already wrapped), by name."""
    return {name: load_golden_image(golden_dir, name) for name in GOLDEN_NAMES}
