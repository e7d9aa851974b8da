"""Speed of the vectorised MMPC codec against a per-block loop baseline, measured in the same run.

    MEDCODEC_LOAD_PLUGINS=dct_teaching uv run python plugins/dct_teaching/bench/bench_mmpc_speed.py [DICOM ...]

The baseline is the seed's algorithm written the way the seed structures it: a Python loop over 8×8 blocks
for the transform and a Python loop over bytes for the RLE (our own code, for comparison only). Both produce
the same bytes (asserted), so the ratio is purely the cost of the loops. Each figure is the median of
``REPEATS`` runs (time.perf_counter); the machine and library versions are printed with the results.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from medcodec.testing import shared_dir
from medcodec_plugin_dct_teaching import codec
from medcodec_plugin_dct_teaching.bitstream import Header
from medcodec_plugin_dct_teaching.transform import dct_matrix, padded_shape

REPEATS = 7
QUALITY = 30


def loop_encode(image: np.ndarray, step: int) -> bytes:
    """Baseline: one Python iteration per block, then one per byte for the RLE."""
    m = dct_matrix()
    height, width = image.shape
    padded_h, padded_w = padded_shape(height, width)
    padded = np.zeros((padded_h, padded_w))
    padded[:height, :width] = image
    levels = []
    for top in range(0, padded_h, 8):
        for left in range(0, padded_w, 8):
            block = padded[top:top + 8, left:left + 8].copy()
            levels.append(np.round((m @ block @ m.T) / step).astype(np.int16).ravel())
    raw = np.concatenate(levels).tobytes()
    pairs = bytearray()
    for value in raw:
        if pairs and pairs[-1] == value and pairs[-2] < 255:
            pairs[-2] += 1
        else:
            pairs += bytes((1, value))
    payload = zlib.compress(bytes(pairs), 6)
    return Header(1, width, height, 16, 8, step, len(payload), 16).pack() + payload


def loop_decode(stream: bytes) -> np.ndarray:
    """Baseline decoder: per-pair RLE expansion and a per-block inverse transform."""
    header = Header(1, *np.frombuffer(stream[5:9], ">u2").tolist(), 16, 8,
                    int.from_bytes(stream[11:13], "big"), int.from_bytes(stream[13:17], "big"), 16)
    rle = zlib.decompress(stream[17:])
    raw = bytearray()
    for i in range(0, len(rle), 2):
        raw += bytes((rle[i + 1],)) * rle[i]
    levels = np.frombuffer(bytes(raw), dtype=np.int16).astype(np.float64)
    m = dct_matrix()
    padded_h, padded_w = padded_shape(header.height, header.width)
    image = np.zeros((padded_h, padded_w))
    index = 0
    for top in range(0, padded_h, 8):
        for left in range(0, padded_w, 8):
            image[top:top + 8, left:left + 8] = m.T @ (levels[index:index + 64].reshape(8, 8) * header.quant_step) @ m
            index += 64
    return np.clip(np.round(image[:header.height, :header.width]), 0, 65535).astype(np.uint16)


def median_ms(function: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(paths: list[Path]) -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''} | {platform.platform()} | "
          f"python {platform.python_version()} numpy {np.__version__} | repeats {REPEATS}, median")
    print(f"{'image':<28}{'pixels':>9}  {'loop enc ms':>11} {'vec enc ms':>10} {'speed-up':>8}  "
          f"{'loop dec ms':>11} {'vec dec ms':>10} {'speed-up':>8}")
    for path in paths:
        print(bench_one(path))


def bench_one(path: Path) -> str:
    """One table row: loop and vectorised timings for one image (lambdas bind this call's locals)."""
    image = pydicom.dcmread(path).pixel_array
    image = np.clip(image, 0, None) if image.min() < 0 else image  # the baseline is v1-only (unsigned)
    stream = codec.encode(image, QUALITY, bits_allocated=16, version=1)
    assert loop_encode(image, QUALITY) == stream, "baseline and codec disagree"
    assert np.array_equal(loop_decode(stream), codec.decode(stream).pixels)
    loop_e = median_ms(lambda: loop_encode(image, QUALITY))
    vec_e = median_ms(lambda: codec.encode(image, QUALITY, bits_allocated=16, version=1))
    loop_d = median_ms(lambda: loop_decode(stream))
    vec_d = median_ms(lambda: codec.decode(stream))
    return (f"{path.name[:27]:<28}{image.size:>9}  {loop_e:>11.1f} {vec_e:>10.1f} {loop_e / vec_e:>7.1f}x  "
            f"{loop_d:>11.1f} {vec_d:>10.1f} {loop_d / vec_d:>7.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main([Path(p) for p in sys.argv[1:]])
    else:
        shared = shared_dir()
        if shared is None:
            sys.exit("no shared corpus found: pass DICOM files as arguments")
        corpus = shared / "corpus"
        main([corpus / "cornerstone3D/CTImage.dcm", corpus / "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",
              Path(pydicom.data.get_testdata_file("CT_small.dcm"))])
