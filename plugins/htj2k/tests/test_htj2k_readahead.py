"""Multi-frame datasets are coded on the pool's threads, with the same bytes and pixels as serial coding."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys
import textwrap
import threading
import time

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


@pytest.fixture
def openjph_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float, float]]:
    """As in a new process (OpenJPH's one-time set-up not done yet): (order, start, end) of each OpenJPH call.

    The first call is slowed down by 50 ms, holding open the window in which OpenJPH 0.26.3 builds its tables
    (about 3 ms here, longer on a loaded machine), so that any call overlapping it is seen every time.
    """
    import imagecodecs

    monkeypatch.setattr(codec, "_openjph_ready", False)
    calls: list[tuple[int, float, float]] = []
    order = itertools.count()
    for name in ("htj2k_encode", "htj2k_decode"):
        original = getattr(imagecodecs, name)

        def timed(*args, _original=original, **kwargs):
            index, start = next(order), time.perf_counter()
            if index == 0:
                time.sleep(0.05)
            try:
                return _original(*args, **kwargs)
            finally:
                calls.append((index, start, time.perf_counter()))

        monkeypatch.setattr(imagecodecs, name, timed)
    return calls


def test_first_openjph_call_of_a_process_runs_alone(
        nm: pydicom.Dataset, openjph_calls: list[tuple[int, float, float]]) -> None:
    """The read-ahead's first pass starts two codestreams at once; OpenJPH's set-up must have finished first.

    Regression: a process whose first HTJ2K work was a 2-frame dataset (CT0012, 12-bit) wrote a corrupt frame
    about once in 150 runs under load; OpenJPH failed to decode it ("ojph error", swallowed by imagecodecs)
    and the pipeline's verification reported "lossless codec is not bit-exact".
    """
    expected = nm.pixel_array.copy()
    nm.compress(HTJ2KLosslessRPCL, htj2k_threads=2)
    _, _, first_end = min(openjph_calls)
    overlapping = [call for call in openjph_calls if call[0] and call[1] < first_end]
    assert not overlapping, "OpenJPH calls started while the process's first one (its set-up) was running"
    nm.pixel_array_options(htj2k_threads=2)
    np.testing.assert_array_equal(nm.pixel_array, expected)


_FIRST_USE_RACE = textwrap.dedent("""
    import random, threading, time
    import numpy as np
    from medcodec_plugin_htj2k import codec

    threads = 16
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 4096, (32, 32)).astype("<u2") for _ in range(threads)]
    settings = codec.EncodeSettings(decompositions=0)
    start = threading.Barrier(threads)
    wrong = []

    def run(index):
        start.wait()
        time.sleep(random.uniform(0, 0.004))  # staggered across OpenJPH's ~3 ms set-up
        end = time.perf_counter() + 0.005
        while True:
            frame = frames[index]
            if not np.array_equal(codec.decode(codec.encode(frame, settings)), frame):
                wrong.append(index)
            if time.perf_counter() > end:
                break

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print("wrong", len(wrong))
""")


def test_concurrent_first_use_in_fresh_processes_round_trips() -> None:
    """Stress (about 4 s): fresh interpreters whose first HTJ2K codestreams are all coded at once.

    Before the fix about 1 process in 20 here returned a wrong frame; every run must round-trip exactly.
    """
    deadline, runs = time.monotonic() + 4, 0
    while runs < 2 or time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-c", _FIRST_USE_RACE], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["wrong", "0"], f"run {runs}: {done.stdout} {done.stderr[-2000:]}"
        runs += 1
