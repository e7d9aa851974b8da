"""MIC benchmark: ratio and single-threaded encode/decode speed of every MIC stream kind, next to
JPEG-LS (pyjpegls / CharLS) and JPEG 2000 lossless (pylibjpeg-openjpeg) measured in the same run,
plus the order-0 entropy of the Delta+RLE word stream.

    uv run python bench/mic_bench.py [--runs 7] [--quick] [--markdown]

Images: the reference's test vectors in shared/mic-golden and 12-16-bit images from shared/corpus.
Every codec gets the same uint16 input (signed data wrapped to two's complement, as the reference
does). MB/s = raw bytes (2 bytes per pixel) / 1e6 / median seconds of ``--runs`` timed runs after one
warm-up; each round trip is checked to be lossless before it is timed.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from medcodec_plugin_mic import decode_stream, delta_rle_words, encode_stream

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
KINDS = ("huff", "fse1", "fse2", "fse4")
GOLDEN = ("MR", "CT", "CT2", "MR1", "MR4", "MR-MONO2-16-head")
CORPUS = {
    "CTImage (CT, s16)": "cornerstone3D/CTImage.dcm",
    "test16signed (s16)": "dcm4che/dcm4che-test-data/src/main/resources/test16signed.dcm",
    "12bitUnsigned (MR)": "dcm_qa_12bit/In/12bitUnsigned.dcm",
    "ovly_p01 (12-bit)": "dcm4che/dcm4che-test-data/src/main/resources/ovly_p01.dcm",
    "MR01 (16-bit)": "dcm4che/dcm4che-assembly/src/etc/testdata/dicom/MR01.dcm",
}
# Reference (Go, HEAD) single-thread decode MB/s, median, from shared/docs/mic-format.md section 3
# (AMD EPYC 2-core VM; a different machine and run: context only, not a same-run baseline).
REFERENCE_DECODE = {"MR": {"huff": 143, "fse1": 175, "fse2": 197, "fse4": 249},
                    "CT": {"huff": 147, "fse1": 143, "fse2": 141, "fse4": 164},
                    "CT2": {"huff": 174, "fse1": 199, "fse2": 174, "fse4": 252},
                    "MR1": {"huff": 154, "fse1": 214, "fse2": 251, "fse4": 274},
                    "MR4": {"huff": 130, "fse1": 236, "fse2": 262, "fse4": 279}}


def load_golden(name: str) -> np.ndarray:
    directory = SHARED / "mic-golden"
    with_header = directory / f"{name}.pixels.raw"
    if with_header.exists():
        raw = with_header.read_bytes()
        width, height = (int(v) for v in np.frombuffer(raw[:8], "<u4"))
        return np.frombuffer(raw[8:], "<u2").reshape(height, width).astype(np.uint16)
    raw = (directory / f"{name}.pixels.raw.nohdr").read_bytes()
    side = math.isqrt(len(raw) // 2)
    return np.frombuffer(raw, "<u2").reshape(side, side).astype(np.uint16)


def load_corpus(relative: str) -> np.ndarray | None:
    path = SHARED / "corpus" / relative
    if not path.is_file():
        return None
    from pydicom import dcmread

    pixels = dcmread(path).pixel_array
    if pixels.ndim == 3:
        pixels = pixels[0]
    return np.ascontiguousarray(pixels.view(np.uint16) if pixels.dtype == np.int16 else pixels.astype(np.uint16))


def timed_seconds(func: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, best) wall-clock seconds of ``runs`` calls after one warm-up call."""
    func()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def order0_entropy_bits(words: np.ndarray) -> float:
    counts = np.bincount(words, minlength=1).astype(np.float64)
    p = counts[counts > 0] / words.size
    return float(-(p * np.log2(p)).sum())


def codecs() -> dict[str, tuple[Callable[[np.ndarray], bytes], Callable[[bytes, np.ndarray], np.ndarray]]]:
    table: dict[str, tuple[Callable[[np.ndarray], bytes], Callable[[bytes, np.ndarray], np.ndarray]]] = {}
    for kind in KINDS:
        table[f"MIC {kind}"] = (
            lambda img, k=kind: encode_stream(img, k),
            lambda data, img, k=kind: decode_stream(data, img.shape[1], img.shape[0], k),
        )
    try:
        import jpeg_ls

        table["JPEG-LS (CharLS)"] = (lambda img: bytes(jpeg_ls.encode_array(img)), 
                                       lambda data, img: np.frombuffer(jpeg_ls.decode_buffer(data)[0], "<u2"))
    except ImportError:
        print("pyjpegls is not installed: JPEG-LS baseline skipped")
    try:
        import openjpeg

        table["JPEG 2000 lossless (OpenJPEG)"] = (
            lambda img: bytes(openjpeg.encode(img, codec_format=0)),
            lambda data, img: openjpeg.decode(data),
        )
    except ImportError:
        print("pylibjpeg-openjpeg is not installed: JPEG 2000 baseline skipped")
    return table


def bench_image(label: str, image: np.ndarray, runs: int, quick_baselines: bool) -> list[dict[str, object]]:
    raw_mb = image.size * 2 / 1e6
    rows = []
    for codec, (encode, decode) in codecs().items():
        baseline = not codec.startswith("MIC")
        data = encode(image)
        decoded = np.asarray(decode(data, image)).reshape(image.shape)
        if not np.array_equal(decoded.astype(np.uint16), image):
            raise SystemExit(f"{codec} is not lossless on {label}")
        n = max(3, runs // 2) if (baseline and quick_baselines) else runs
        enc, enc_best = timed_seconds(lambda enc=encode: enc(image), n)
        dec, dec_best = timed_seconds(lambda dec=decode, blob=data: dec(blob, image), n)
        rows.append({"image": label, "codec": codec, "ratio": image.size * 2 / len(data),
                     "enc": raw_mb / enc, "dec": raw_mb / dec,
                     "enc_best": raw_mb / enc_best, "dec_best": raw_mb / dec_best})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (median; >= 5)")
    parser.add_argument("--quick", action="store_true", help="golden images only, fewer baseline runs")
    args = parser.parse_args()
    runs = max(args.runs, 5)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, python {platform.python_version()}, numpy {np.__version__}; "
          f"single-threaded; median (best) of {runs} runs; load average before: {os.getloadavg()[0]:.2f}")
    images: list[tuple[str, np.ndarray]] = [(name, load_golden(name)) for name in GOLDEN]
    if not args.quick:
        for label, relative in CORPUS.items():
            pixels = load_corpus(relative)
            if pixels is not None:
                images.append((label, pixels))

    print("\n| image | dims | max | codec | ratio | encode MB/s med (best) | decode MB/s med (best) "
          "| enc x JPEG-LS | dec x JPEG-LS |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for label, image in images:
        rows = bench_image(label, image, runs, args.quick)
        jls = next((r for r in rows if str(r["codec"]).startswith("JPEG-LS")), None)
        words = delta_rle_words(image)
        entropy = order0_entropy_bits(words)
        for r in rows:
            enc_x = f"{float(r['enc']) / float(jls['enc']):.2f}" if jls else "-"
            dec_x = f"{float(r['dec']) / float(jls['dec']):.2f}" if jls else "-"
            print(f"| {label} | {image.shape[1]}x{image.shape[0]} | {int(image.max())} | {r['codec']} | "
                  f"{float(r['ratio']):.3f} | {float(r['enc']):.0f} ({float(r['enc_best']):.0f}) | "
                  f"{float(r['dec']):.0f} ({float(r['dec_best']):.0f}) | {enc_x} | {dec_x} |")
        bound = image.size * 2 / (entropy * words.size / 8)
        print(f"| {label} | | | order-0 entropy of the word stream: {entropy:.3f} bits/word, "
              f"{words.size} words | {bound:.3f} (bound) | | | | |")
        summary.extend(rows)

    mic = [r for r in summary if str(r["codec"]).startswith("MIC")]
    print("\nMIC single-threaded, median over images: "
          + ", ".join(f"{k}: encode {statistics.median(float(r['enc']) for r in mic if r['codec'] == f'MIC {k}'):.0f} MB/s, "
                      f"decode {statistics.median(float(r['dec']) for r in mic if r['codec'] == f'MIC {k}'):.0f} MB/s"
                      for k in KINDS))
    print(f"load average after: {os.getloadavg()[0]:.2f} (the machine is shared: compare medians within one run)")
    print("Reference (Go) decode MB/s from mic-format.md, other machine, for context: "
          + "; ".join(f"{img} " + "/".join(str(v) for v in ks.values()) for img, ks in REFERENCE_DECODE.items())
          + " (huff/fse1/fse2/fse4)")


if __name__ == "__main__":
    main()
