"""MIC Native benchmark: compression ratio and single-thread encode/decode speed next to JPEG-LS
(pyjpegls / CharLS), JPEG 2000 lossless (pylibjpeg-openjpeg), HTJ2K lossless (imagecodecs / OpenJPH),
the reference-compatible MIC streams (fse2, the same Rust core) and JPEG-XL lossless effort 3
(imagecodecs / libjxl), all measured in the same run on the same pixels.

    uv run python bench/mic_native_bench.py [--runs 3] [--quick] [--markdown] [--json out.json]

Images: every monochrome 9-16-bit image of shared/corpus, pydicom's test files and the pydicom-data
files that pydicom can decode here, at least 32x32, first frame only, each distinct pixel content once.
ratio = raw bytes (2 per pixel) / compressed bytes. MB/s = raw bytes / 1e6 / the best of ``--runs``
timed calls after one warm-up (codecs interleaved per image, one thread each). Aggregate speed =
sum of raw bytes / sum of best times. Every round trip is checked bit-exact before it is timed.
Peak extra memory of MIC Native is measured in a fresh process (VmHWM) on the largest image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from medcodec_plugin_mic import native

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
BASELINE = "JPEG-LS"
MIN_SIDE = 32
"""Smaller images (pydicom's 16x16 DICOMDIR thumbnails, 10x10 slide tiles) are left out: OpenJPEG
refuses them, and no one stores them compressed."""


@dataclass
class Image:
    name: str
    pixels: np.ndarray  # 2-D uint16 or int16
    bits_stored: int

    @property
    def raw_bytes(self) -> int:
        return self.pixels.size * 2


@dataclass
class Codec:
    name: str
    library: str
    encode: Callable[[Image], bytes]
    decode: Callable[[bytes, Image], np.ndarray]
    ratios: dict[str, float] = field(default_factory=dict)
    enc_s: dict[str, float] = field(default_factory=dict)
    dec_s: dict[str, float] = field(default_factory=dict)


def _resolutions(image: Image) -> int:
    rows, cols = image.pixels.shape
    return max(1, min(6, int(math.log2(max(1, min(rows, cols) // 8))) + 1))


def _jxl_input(image: Image) -> np.ndarray:
    """libjxl has no signed samples: shift signed images by 2^(BS-1) (undone after decoding)."""
    a = image.pixels
    if a.dtype.kind == "i":
        return (a.astype(np.int32) + (1 << (image.bits_stored - 1))).astype(np.uint16)
    return a


def _jxl_output(decoded: np.ndarray, image: Image) -> np.ndarray:
    if image.pixels.dtype.kind == "i":
        return (decoded.astype(np.int32) - (1 << (image.bits_stored - 1))).astype(np.int16)
    return decoded


def make_codecs() -> list[Codec]:
    import imagecodecs
    import jpeg_ls
    import openjpeg
    from medcodec_plugin_mic import frame as mic_frame

    # JPEG-LS carries the stored bit pattern (BitsStored bits), as DICOM requires; signed samples are
    # sign-extended again after decoding, as pydicom does.
    def jls_encode(im: Image) -> bytes:
        rows, cols = im.pixels.shape
        pattern = im.pixels.view(np.uint16) & np.uint16((1 << im.bits_stored) - 1)
        return bytes(jpeg_ls.encode_pixel_data(pattern.tobytes(), lossy_error=0, rows=rows, columns=cols,
                                               samples_per_pixel=1, bits_stored=im.bits_stored))

    def jls_decode(data: bytes, im: Image) -> np.ndarray:
        out = np.frombuffer(jpeg_ls.decode_buffer(data)[0], np.uint16).reshape(im.pixels.shape)
        if im.pixels.dtype.kind == "i":
            shift = 16 - im.bits_stored
            return ((out.astype(np.int32) << shift).astype(np.int16) >> shift).astype(np.int16)
        return out

    return [
        Codec("MIC Native", "medcodec (Rust)",
              lambda im: native.encode(im.pixels, bits_stored=im.bits_stored, threads=1),
              lambda data, im: native.decode(data, threads=1)),
        Codec(BASELINE, "pyjpegls (CharLS)", jls_encode, jls_decode),
        Codec("JPEG 2000", "pylibjpeg-openjpeg",
              lambda im: bytes(openjpeg.encode(im.pixels, bits_stored=im.bits_stored)),
              lambda data, im: openjpeg.decode(data)),
        Codec("HTJ2K", "imagecodecs (OpenJPH)",
              lambda im: imagecodecs.htj2k_encode(im.pixels, reversible=True, tlm=True, resolutions=_resolutions(im)),
              lambda data, im: imagecodecs.htj2k_decode(data)),
        Codec("MIC fse2", "medcodec mic (reference streams)",
              lambda im: mic_frame.encode_frame(im.pixels, kind="fse2", signed=im.pixels.dtype.kind == "i",
                                                bits_stored=im.bits_stored),
              lambda data, im: mic_frame.decode_frame(data)[1]),
        Codec("JPEG-XL e3", "imagecodecs (libjxl)",
              lambda im: imagecodecs.jpegxl_encode(_jxl_input(im), lossless=True, effort=3,
                                                   bitspersample=im.bits_stored, numthreads=1),
              lambda data, im: _jxl_output(imagecodecs.jpegxl_decode(data, numthreads=1), im)),
    ]


def _candidate_files() -> list[tuple[str, Path]]:
    from importlib.util import find_spec

    from pydicom.data.data_manager import DATA_ROOT

    files: list[tuple[str, Path]] = []
    inventory = SHARED / "corpus" / "INVENTORY.tsv"
    if inventory.is_file():
        import csv

        with inventory.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                bits = int(row["bits_stored"] or 0)
                if row["samples_per_pixel"] == "1" and 9 <= bits <= 16:
                    files.append(("corpus/" + row["path"], SHARED / "corpus" / row["path"]))
    folders = [("pydicom", Path(DATA_ROOT) / "test_files")]
    spec = find_spec("data_store")
    if spec is not None and spec.origin is not None:
        folders.append(("pydicom-data", Path(spec.origin).parent / "data"))
    for label, folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix not in {".py", ".pyc", ".txt", ".json", ".gz", ".bz2", ".zip"}:
                files.append((f"{label}/{path.relative_to(folder)}", path))
    return files


def load_images(quick: bool) -> list[Image]:
    from pydicom import dcmread

    images: list[Image] = []
    seen: set[str] = set()
    for label, path in _candidate_files():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = dcmread(path)
                if ("PixelData" not in ds or int(ds.get("SamplesPerPixel", 1)) != 1
                        or int(ds.get("BitsAllocated", 0)) != 16 or not 9 <= int(ds.BitsStored) <= 16):
                    continue
                array = ds.pixel_array
            except Exception:  # noqa: BLE001, S112 - unreadable, or no decoder here: not part of the set
                continue
        if array.ndim == 3:
            array = array[0]
        if array.ndim != 2 or array.dtype.itemsize != 2 or min(array.shape) < MIN_SIDE:
            continue
        array = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("="), copy=False))
        digest = hashlib.sha256(array.tobytes() + str(array.dtype).encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        images.append(Image(label, array, int(ds.BitsStored)))
    if quick:
        images = sorted(images, key=lambda im: im.raw_bytes)[::4]
    return images


def _best(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    best = math.inf
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(codecs: list[Codec], images: list[Image], runs: int) -> None:
    for im in images:
        for codec in codecs:
            try:
                data = codec.encode(im)
                back = codec.decode(data, im)
            except Exception as exc:  # noqa: BLE001 - recorded as a failure in the table
                print(f"  {codec.name} failed on {im.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            if not np.array_equal(np.asarray(back).reshape(im.pixels.shape).astype(im.pixels.dtype), im.pixels):
                print(f"  {codec.name} is not lossless on {im.name}", file=sys.stderr)
                continue
            codec.ratios[im.name] = im.raw_bytes / len(data)
            codec.enc_s[im.name] = _best(lambda c=codec, i=im: c.encode(i), runs)
            codec.dec_s[im.name] = _best(lambda c=codec, d=data, i=im: c.decode(d, i), runs)


def gmean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def peak_memory(image: Image) -> dict[str, float]:
    """Peak extra resident memory of MIC Native encode and decode, in units of the raw image size."""
    script = """
import sys, numpy as np
from medcodec_plugin_mic import native
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
pixels = np.load(sys.argv[1]); bits = int(sys.argv[2]); mode = sys.argv[3]
data = open(sys.argv[4], "rb").read()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak resident size (VmHWM) to the current one
before = status("VmRSS")
out = native.decode(data, threads=1) if mode == "decode" else native.encode(pixels, bits_stored=bits, threads=1)
print(status("VmHWM") - before)
"""
    # A fresh process per mode; the peak is reset after the input (pixels and encoded frame) is loaded
    # and the extension imported (Linux's clear_refs). The decoder's output array counts as extra memory.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path, frame = Path(tmp) / "image.npy", Path(tmp) / "frame.micn"
        np.save(path, image.pixels)
        frame.write_bytes(native.encode(image.pixels, bits_stored=image.bits_stored))
        result = {}
        for mode in ("encode", "decode"):
            done = subprocess.run([sys.executable, "-c", script, str(path), str(image.bits_stored), mode, str(frame)],
                                  capture_output=True, text=True, check=True)
            result[mode] = int(done.stdout.strip()) / image.raw_bytes
    return result


def report(codecs: list[Codec], images: list[Image], markdown: bool) -> dict[str, object]:
    base = next(c for c in codecs if c.name == BASELINE)
    mine = codecs[0]
    names = [im.name for im in images if all(im.name in c.ratios for c in codecs)]
    sizes = {im.name: im for im in images}
    for im in images:
        if im.name not in names:
            failed = ", ".join(c.name for c in codecs if im.name not in c.ratios)
            rows, cols = im.pixels.shape
            print(f"# left out {im.name} ({cols}x{rows}): {failed} failed or was not lossless")
    sep = " | " if markdown else "  "

    def row(cells: list[str]) -> str:
        return ("| " + sep.join(cells) + " |") if markdown else sep.join(cells)

    header = ["image", "size", "BS", *[c.name for c in codecs], "Native/JLS"]
    print(row(header))
    if markdown:
        print("|" + "---|" * len(header))
    for n in names:
        im = sizes[n]
        rows, cols = im.pixels.shape
        cells = [n, f"{cols}x{rows}", str(im.bits_stored)] + [f"{c.ratios[n]:.3f}" for c in codecs]
        cells.append(f"{mine.ratios[n] / base.ratios[n]:.3f}")
        print(row(cells))
    print()
    total_raw = sum(sizes[n].raw_bytes for n in names)
    summary: dict[str, object] = {"images": len(names)}
    print(row(["codec", "library", "ratio gmean", "ratio size-weighted", "enc MB/s", "dec MB/s",
               "enc MB/s (median image)", "dec MB/s (median image)"]))
    if markdown:
        print("|" + "---|" * 8)
    for c in codecs:
        g = gmean([c.ratios[n] for n in names])
        weighted = total_raw / sum(sizes[n].raw_bytes / c.ratios[n] for n in names)
        enc = total_raw / 1e6 / sum(c.enc_s[n] for n in names)
        dec = total_raw / 1e6 / sum(c.dec_s[n] for n in names)
        enc_med = float(np.median([sizes[n].raw_bytes / 1e6 / c.enc_s[n] for n in names]))
        dec_med = float(np.median([sizes[n].raw_bytes / 1e6 / c.dec_s[n] for n in names]))
        summary[c.name] = {"gmean": g, "weighted": weighted, "enc_MBps": enc, "dec_MBps": dec}
        print(row([c.name, c.library, f"{g:.3f}", f"{weighted:.3f}", f"{enc:.0f}", f"{dec:.0f}",
                   f"{enc_med:.0f}", f"{dec_med:.0f}"]))
    print()
    s_mine, s_base = summary[mine.name], summary[BASELINE]
    s_ht = summary["HTJ2K"]
    big = [n for n in names if min(sizes[n].pixels.shape) >= 256]
    worst = min(big, key=lambda n: mine.ratios[n] / base.ratios[n]) if big else None
    checks = [
        ("ratio gmean >= 1.10 x JPEG-LS", s_mine["gmean"] / s_base["gmean"], 1.10),  # type: ignore[index]
        (f"worst image >= 256x256 vs JPEG-LS ({worst})",
         mine.ratios[worst] / base.ratios[worst] if worst else float("nan"), 0.97),
        ("decode >= 1.0 x HTJ2K (aggregate)", s_mine["dec_MBps"] / s_ht["dec_MBps"], 1.0),  # type: ignore[index]
        ("decode >= 3 x CharLS (aggregate)", s_mine["dec_MBps"] / s_base["dec_MBps"], 3.0),  # type: ignore[index]
        ("encode >= 1.5 x CharLS (aggregate)", s_mine["enc_MBps"] / s_base["enc_MBps"], 1.5),  # type: ignore[index]
    ]
    largest = max((sizes[n] for n in names), key=lambda im: im.raw_bytes)
    memory = peak_memory(largest)
    checks.append((f"peak extra memory encode <= 2 x image ({largest.name})", memory["encode"], -2.0))
    checks.append((f"peak extra memory decode <= 2 x image ({largest.name})", memory["decode"], -2.0))
    cores = len(os.sched_getaffinity(0))
    data = native.encode(largest.pixels, bits_stored=largest.bits_stored)
    mb = largest.raw_bytes / 1e6
    print(f"strip-parallel on {largest.name} ({native.read_header(data).strips} strips), MB/s by threads:")
    for threads in sorted({1, 2, cores}):
        enc = mb / _best(lambda t=threads: native.encode(largest.pixels, bits_stored=largest.bits_stored, threads=t), 3)
        dec = mb / _best(lambda t=threads: native.decode(data, threads=t), 3)
        print(f"  {threads} thread(s): encode {enc:.0f}, decode {dec:.0f}")
    print()
    print(row(["target", "measured", "goal", "met"]))
    if markdown:
        print("|---|---|---|---|")
    for label, value, goal in checks:
        met = value <= -goal if goal < 0 else value >= goal
        print(row([label, f"{value:.3f}", f"{'<=' if goal < 0 else '>='} {abs(goal)}", "yes" if met else "NO"]))
    summary["checks"] = {label: value for label, value, _ in checks}
    summary["per_image"] = {n: {c.name: c.ratios[n] for c in codecs} for n in names}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per codec and image (best is kept)")
    parser.add_argument("--quick", action="store_true", help="every fourth image by size")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    images = load_images(args.quick)
    print(f"# {len(images)} images, {sum(im.raw_bytes for im in images) / 1e6:.1f} MB raw; "
          f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    codecs = make_codecs()
    started = time.time()
    measure(codecs, images, args.runs)
    summary = report(codecs, images, args.markdown)
    print(f"\n# measured in {time.time() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at end")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
