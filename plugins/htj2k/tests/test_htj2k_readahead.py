"""Multi-frame datasets are coded on the pool's threads, with the same bytes and pixels as serial coding."""

from __future__ import annotations

import copy
import threading

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec_plugin_htj2k import codec, readahead
from medcodec_plugin_htj2k.plugin import HTJ2KLosslessRPCL
from pydicom.pixels import iter_pixels


@pytest.fixture
def nm(real_dataset) -> pydicom.Dataset:
    medcodec.install()
    return real_dataset("nm16_13_frames")


@pytest.fixture
def threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    for name in ("encode", "decode"):
        original = getattr(codec, name)

        def spy(*args, _original=original, **kwargs):
            seen.append(threading.current_thread().name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(codec, name, spy)
    return seen


def test_parallel_encode_and_decode_match_serial(nm: pydicom.Dataset, threads_seen: list[str]) -> None:
    expected = nm.pixel_array.copy()
    serial, parallel = copy.deepcopy(nm), copy.deepcopy(nm)
    serial.compress(HTJ2KLosslessRPCL, htj2k_threads=1)
    assert set(threads_seen) == {"MainThread"}
    threads_seen.clear()
    parallel.compress(HTJ2KLosslessRPCL, htj2k_threads=3)
    assert serial.PixelData == parallel.PixelData
    assert any(name.startswith("medcodec-htj2k") for name in threads_seen)
    threads_seen.clear()
    parallel.pixel_array_options(htj2k_threads=3)
    np.testing.assert_array_equal(parallel.pixel_array, expected)
    assert len(threads_seen) == 13 and sum(name.startswith("medcodec-htj2k") for name in threads_seen) >= 10


def test_single_frame_and_frame_iteration_are_not_confused(nm: pydicom.Dataset, threads_seen: list[str]) -> None:
    expected = nm.pixel_array.copy()
    nm.compress(HTJ2KLosslessRPCL)
    threads_seen.clear()
    nm.pixel_array_options(index=5, htj2k_threads=4)
    np.testing.assert_array_equal(nm.pixel_array, expected[5])
    assert threads_seen == ["MainThread"], "a single-frame request must not decode other frames"
    nm.pixel_array_options(htj2k_threads=4)
    frames = list(iter_pixels(nm, htj2k_threads=4))
    np.testing.assert_array_equal(np.stack(frames), expected)


def test_thread_option_is_validated(nm: pydicom.Dataset) -> None:
    with pytest.raises(Exception, match="htj2k_threads must be at least 1"):
        nm.compress(HTJ2KLosslessRPCL, htj2k_threads=0)


def test_available_cores_is_positive() -> None:
    assert readahead.available_cores() >= 1


def test_extended_offset_table_and_saved_file(nm: pydicom.Dataset, tmp_path) -> None:
    """Frames located through the Extended Offset Table, and a file read back (a bytes source again)."""
    expected = nm.pixel_array.copy()
    nm.compress(HTJ2KLosslessRPCL, encapsulate_ext=True)
    assert "ExtendedOffsetTable" in nm
    nm.pixel_array_options(htj2k_threads=2)
    np.testing.assert_array_equal(nm.pixel_array, expected)
    path = tmp_path / "nm.dcm"
    nm.save_as(path, enforce_file_format=True)
    back = pydicom.dcmread(path)
    back.pixel_array_options(htj2k_threads=2)
    np.testing.assert_array_equal(back.pixel_array, expected)
