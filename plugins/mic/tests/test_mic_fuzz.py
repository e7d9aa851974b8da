"""A short, bounded fuzz run (the long one is plugins/mic/fuzz/fuzz_decoders.py, same harness)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from medcodec_plugin_mic import KINDS, MicCodecError, decode_stream


def _harness() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_decoders.py"
    spec = importlib.util.spec_from_file_location("mic_fuzz_decoders", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_streams_never_crash(seed: int) -> None:
    assert _harness().run(iterations=20000, seconds=None, seed=seed) == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
def test_random_bytes_raise_mic_errors(kind: str) -> None:
    rng = np.random.default_rng(99)
    errors = 0
    for size in list(range(40)) + [100, 1000, 10000]:
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        try:
            decode_stream(data, 32, 32, kind)
        except MicCodecError as exc:
            assert str(exc).startswith(f"MIC ({kind}):")
            errors += 1
    assert errors >= 40  # nearly all random inputs are detected as malformed


@pytest.mark.timeout(60)
def test_huge_declared_sizes_fail_fast() -> None:
    with pytest.raises(MicCodecError):
        decode_stream(b"\x00\x00\x00\x10" + b"\x00" * 60, 40000, 40000, "huff")
    with pytest.raises(MicCodecError, match="too large"):
        decode_stream(b"\xff\x02" + b"\x00" * 40, 1 << 20, 1 << 20, "fse2")


def test_huffman_count_larger_than_the_stream_is_refused() -> None:
    # count 10^9, max value 15 (4-bit symbols), max code length 1, two entries: symbols 15 and 3
    # (0xF3), code lengths 1 and 1 (two bits: 0b11), then a few payload bytes.
    header = (10**9).to_bytes(4, "big") + (15).to_bytes(2, "big") + bytes([1]) + (2).to_bytes(2, "big")
    with pytest.raises(MicCodecError, match="claims 1000000000 words but holds only"):
        decode_stream(header + b"\xf3\xc0" + b"\x55" * 16, 30000, 30000, "huff")
