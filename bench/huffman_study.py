"""Reproduce the Huffman-for-DICOM study with medcodec's `huffman` tool, and redo its "Huffman vs JPEG 2000"
comparison against real lossless pixel codecs.

For every DICOM file of ../shared/corpus and of pydicom's test files (pydicom's bundled files and pydicom-data's,
read from disk; identical files counted once) it reports: original size, packed size, ratio, space saving,
number of distinct byte values, byte entropy H and the bound 8/H that any byte-wise Huffman code can at best
reach, and pack / unpack time. For files with native (uncompressed) pixel data it also compresses the pixel
data losslessly with JPEG 2000 (pylibjpeg-openjpeg), JPEG-LS (pyjpegls), HTJ2K (imagecodecs/OpenJPH) and MIC
(medcodec_plugin_mic, when importable), checks each round trip, and reports the whole-file ratio the codec
would give: file / (file - native pixel bytes + codestream bytes + 8 bytes per frame + 16 bytes of encapsulation).

Speed: unpack MB/s (of original bytes; includes header parsing and the CRC-32 check) on the files >= 4 MB and
on the first 5,000,000 bytes of the largest one, each the best of --repeat runs, with zlib level 6 and a
plain bytes copy measured in the same run as baselines.

Run from the repository root:
    uv run python bench/huffman_study.py [--repeat 7] [--only-native] > /tmp/huffman_study.md
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import math
import os
import platform
import statistics
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from medcodec.testing import pydicom_test_files, shared_dir
from medcodec_plugin_huffman import _huffman, codec

FIVE_MB = 5_000_000


# -------------------------------------------------------------------------
# inputs
# -------------------------------------------------------------------------


def study_files() -> list[tuple[str, Path]]:
    """(label, path) of every distinct DICOM file to study: corpus first, then pydicom's test files."""
    found: list[tuple[str, Path]] = []
    shared = shared_dir()
    if shared is not None:
        root = shared / "corpus"
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name not in {"INVENTORY.tsv", "README.md"}:
                found.append((f"corpus/{path.relative_to(root)}", path))
    for path in pydicom_test_files():
        found.append((f"pydicom/{path.name}", path))
    seen: set[str] = set()
    unique = []
    for label, path in found:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append((label, path))
    return unique


def all_times(function: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    times = []
    for _ in range(repeat):
        start = clock()
        function()
        times.append(clock() - start)
    return times


def best_time(function: Callable[[], Any], repeat: int) -> float:
    return min(all_times(function, repeat))


# -------------------------------------------------------------------------
# whole-file Huffman
# -------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    transfer_syntax: str
    size: int
    packed: int
    method: str
    symbols: int
    entropy: float
    pack_s: float
    unpack_s: float
    pixel: dict[str, str] = field(default_factory=dict)  # codec -> whole-file ratio or "n/a: reason"
    native: bool = False

    @property
    def ratio(self) -> float:
        return self.size / self.packed

    @property
    def saving(self) -> float:
        return 100.0 * (1 - self.packed / self.size)


def byte_entropy(data: bytes) -> tuple[int, float]:
    counts = np.array(_huffman.histogram(data), dtype=np.float64)
    used = counts[counts > 0]
    p = used / used.sum()
    return int(used.size), float(-(p * np.log2(p)).sum())


def huffman_row(label: str, path: Path, repeat: int) -> Row:
    data = path.read_bytes()
    packed, method = codec.pack(data)
    if codec.unpack_bytes(packed) != data:
        raise SystemExit(f"round trip failed for {label}")
    symbols, entropy = byte_entropy(data)
    pack_s = best_time(lambda: codec.pack_bytes(data), repeat)
    unpack_s = best_time(lambda: codec.unpack_bytes(packed), repeat)
    return Row(label, "", len(data), len(packed), method.name.lower(), symbols, entropy, pack_s, unpack_s)


# -------------------------------------------------------------------------
# pixel codecs on native pixel data
# -------------------------------------------------------------------------


def _j2k(frame: np.ndarray, bits_stored: int) -> tuple[bytes, Callable[[bytes], np.ndarray]]:
    from openjpeg.utils import decode, encode

    # use_mct=False: no colour transform, so colour frames stay exactly reversible as given.
    encoded = encode(frame, bits_stored=bits_stored, use_mct=False)
    return encoded, lambda b: np.asarray(decode(b))


def _jpegls(frame: np.ndarray, bits_stored: int) -> tuple[bytes, Callable[[bytes], np.ndarray]]:
    import jpeg_ls

    return bytes(jpeg_ls.encode_array(frame)), lambda b: np.asarray(jpeg_ls.decode(np.frombuffer(b, np.uint8)))


def _htj2k(frame: np.ndarray, bits_stored: int) -> tuple[bytes, Callable[[bytes], np.ndarray]]:
    import imagecodecs

    return bytes(imagecodecs.htj2k_encode(frame, reversible=True)), lambda b: np.asarray(imagecodecs.htj2k_decode(b))


def _mic(frame: np.ndarray, bits_stored: int) -> tuple[bytes, Callable[[bytes], np.ndarray]]:
    from medcodec_plugin_mic import codec as mic

    if frame.ndim != 2:
        raise ValueError("single-channel images only")
    rows, columns = frame.shape
    return bytes(mic.encode_stream(frame, kind="fse2")), lambda b: mic.decode_stream(b, columns, rows, "fse2")


PIXEL_CODECS: dict[str, tuple[str, Callable[[np.ndarray, int], tuple[bytes, Callable[[bytes], np.ndarray]]]]] = {
    "JPEG 2000": ("openjpeg", _j2k),
    "JPEG-LS": ("jpeg_ls", _jpegls),
    "HTJ2K": ("imagecodecs", _htj2k),
    "MIC": ("medcodec_plugin_mic", _mic),
}


def available_codecs() -> tuple[list[str], list[str]]:
    from importlib.util import find_spec

    present, notes = [], []
    for name, (module, _) in PIXEL_CODECS.items():
        if find_spec(module) is not None:
            present.append(name)
        else:
            notes.append(f"{name} skipped: '{module}' is not importable in this environment.")
    return present, notes


def _as_codec_input(frame: np.ndarray, bits_stored: int, signed: bool, name: str) -> np.ndarray:
    # JPEG-LS and MIC take unsigned samples: signed values are wrapped into two's complement within
    # BitsStored, as pydicom does before JPEG-LS encoding. JPEG 2000 / HTJ2K code signed samples natively.
    if signed and name in {"JPEG-LS", "MIC"}:
        unsigned: np.ndarray = frame.view(np.uint16 if frame.dtype.itemsize == 2 else np.uint8)
        mask = unsigned.dtype.type((1 << bits_stored) - 1)
        return np.ascontiguousarray(np.bitwise_and(unsigned, mask))
    return np.ascontiguousarray(frame)


def pixel_ratios(path: Path, size: int, codecs: list[str]) -> tuple[bool, str, dict[str, str]]:
    """(native?, transfer syntax name, {codec: whole-file ratio or reason})."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001 -- some pydicom test files are deliberately broken: reported
        return False, "?", {name: f"n/a: unreadable ({type(exc).__name__})" for name in codecs}
    ts = ds.file_meta.get("TransferSyntaxUID", None)
    ts_name = ts.name if ts is not None else "?"
    if ts is None or not ts.is_transfer_syntax:
        return False, ts_name, {name: "n/a: no known transfer syntax" for name in codecs}
    if "PixelData" not in ds:
        return False, ts_name, {name: "n/a: no pixel data" for name in codecs}
    if ts.is_deflated:  # the whole dataset is zlib-compressed on disk: the size formula does not apply
        return False, ts_name, {name: "n/a: deflated file" for name in codecs}
    if ts.is_compressed:
        return False, ts_name, {name: "n/a: already compressed" for name in codecs}
    if not all(k in ds for k in ("BitsAllocated", "BitsStored", "Rows", "Columns", "SamplesPerPixel")):
        return True, ts_name, {name: "n/a: incomplete pixel module" for name in codecs}
    bits_allocated, bits_stored = int(ds.BitsAllocated), int(ds.BitsStored)
    if bits_allocated not in (8, 16):
        return True, ts_name, {name: f"n/a: {bits_allocated}-bit samples" for name in codecs}
    try:
        array = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 -- reported, never hidden: the row says why
        return True, ts_name, {name: f"n/a: pixel data unreadable ({type(exc).__name__})" for name in codecs}
    array = array.astype(array.dtype.newbyteorder("="), copy=False)  # big-endian files give '>u2' arrays
    frames_count = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    frames = array.reshape((frames_count, int(ds.Rows), int(ds.Columns)) + ((spp,) if spp > 1 else ()))
    native_bytes = len(ds.PixelData)
    signed = int(ds.PixelRepresentation) == 1
    result: dict[str, str] = {}
    for name in codecs:
        _, encoder = PIXEL_CODECS[name]
        total = 8 * frames_count + 16
        try:
            for frame in frames:
                source = _as_codec_input(frame, bits_stored, signed, name)
                encoded, decode = encoder(source, bits_stored)
                if not np.array_equal(decode(encoded).reshape(source.shape), source):
                    raise ValueError("round trip not exact")
                total += len(encoded)
        except Exception as exc:  # noqa: BLE001 -- a codec's limits (colour, signedness...) are reported per file
            result[name] = f"n/a: {str(exc)[:40] or type(exc).__name__}"
            continue
        result[name] = f"{size / (size - native_bytes + total):.3f}"
    return True, ts_name, result


# -------------------------------------------------------------------------
# speed
# -------------------------------------------------------------------------


def speed_table(rows: list[Row], paths: dict[str, Path], repeat: int) -> list[str]:
    big = [r for r in rows if r.size >= 4_000_000]
    cases: list[tuple[str, bytes]] = [(r.label, paths[r.label].read_bytes()) for r in big]
    if big:
        largest = max(big, key=lambda r: r.size)
        cases.append((f"{largest.label} (first 5,000,000 bytes)", paths[largest.label].read_bytes()[:FIVE_MB]))
    lines = [
        ("| file | MB | method | ratio | unpack MB/s best (median) | unpack MB/s of CPU time | zlib-6 ratio "
         "| zlib-6 decompress MB/s | bytes copy MB/s | unpack / zlib-6 | pack MB/s |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, data in cases:
        packed, method = codec.pack(data)
        deflated = zlib.compress(data, 6)
        unpack = functools.partial(codec.unpack_bytes, packed)
        unpack_times = all_times(unpack, repeat)
        # CPU time of this process: what the unpacking costs, whatever else the shared machine runs.
        unpack_cpu = min(all_times(unpack, repeat, time.process_time))
        pack_s = best_time(functools.partial(codec.pack_bytes, data), repeat)
        zlib_s = best_time(functools.partial(zlib.decompress, deflated), repeat)
        copy_s = best_time(functools.partial(bytes, bytearray(data)), repeat)
        mb = len(data) / 1e6
        unpack_s, unpack_median = min(unpack_times), statistics.median(unpack_times)
        lines.append(
            f"| {label} | {mb:.2f} | {method.name.lower()} | {len(data) / len(packed):.3f} "
            f"| {mb / unpack_s:.0f} ({mb / unpack_median:.0f}) | {mb / unpack_cpu:.0f} "
            f"| {len(data) / len(deflated):.3f} | {mb / zlib_s:.0f} "
            f"| {mb / copy_s:.0f} | {zlib_s / unpack_s:.2f}x | {mb / pack_s:.0f} |"
        )
    return lines


# -------------------------------------------------------------------------
# report
# -------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; 1-minute load at start {load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per measurement (best is kept)")
    parser.add_argument("--only-native", action="store_true", help="per-file table for native pixel data only")
    args = parser.parse_args()

    out = io.StringIO()

    def emit(line: str = "") -> None:
        print(line, file=out)

    codecs, notes = available_codecs()
    files = study_files()
    paths = dict(files)
    rows: list[Row] = []
    for label, path in files:
        row = huffman_row(label, path, args.repeat)
        row.native, row.transfer_syntax, row.pixel = pixel_ratios(path, row.size, codecs)
        rows.append(row)

    emit(f"Machine: {machine()}")
    emit(f"Files: {len(rows)} distinct DICOM files ({sum(r.size for r in rows)} bytes); "
         f"{sum(r.native for r in rows)} with native pixel data. Times are the best of {args.repeat} runs.")
    for note in notes:
        emit(f"Note: {note}")
    emit()
    emit(f"## Speed (best and median of {max(args.repeat, 15)} runs; unpack includes header parsing and the CRC-32 check)")
    emit()
    for line in speed_table(rows, paths, max(args.repeat, 15)):
        emit(line)
    emit()

    def summary(group: list[Row], title: str) -> None:
        if not group:
            return
        total, packed = sum(r.size for r in group), sum(r.packed for r in group)
        gmean = math.exp(sum(math.log(r.ratio) for r in group) / len(group))
        stored = sum(r.method == "stored" for r in group)
        emit(f"- {title}: {len(group)} files, aggregate ratio {total / packed:.3f} (saving "
             f"{100 * (1 - packed / total):.1f}%), geometric-mean ratio {gmean:.3f}, best {max(r.ratio for r in group):.3f}, "
             f"worst {min(r.ratio for r in group):.3f}; {stored} stored raw; mean gap to the entropy bound "
             f"{100 * sum(r.packed / (r.size * r.entropy / 8) - 1 for r in group) / len(group):.2f}%")

    emit("## Summary")
    emit()
    summary([r for r in rows if r.native], "native pixel data")
    summary([r for r in rows if not r.native], "compressed pixel data or none")
    for name in codecs:
        values = [float(r.pixel[name]) for r in rows if r.native and not r.pixel.get(name, "n/a").startswith("n/a")]
        huff = [r.ratio for r in rows if r.native and not r.pixel.get(name, "n/a").startswith("n/a")]
        if values:
            g = math.exp(sum(map(math.log, values)) / len(values))
            gh = math.exp(sum(map(math.log, huff)) / len(huff))
            emit(f"- {name} on the same {len(values)} native files: whole-file geometric-mean ratio {g:.3f} "
                 f"vs Huffman {gh:.3f} ({g / gh:.2f}x)")
    emit()
    emit("## Per file")
    emit()
    header = ("| file | transfer syntax | bytes | packed | ratio | saving % | symbols | H bits/byte | bound 8/H "
              "| pack ms | unpack ms | " + " | ".join(codecs) + " |")
    emit(header)
    emit("|" + "---|" * (11 + len(codecs)))
    for r in rows:
        if args.only_native and not r.native:
            continue
        method = "" if r.method == "huffman" else " (stored)"
        cells = [r.pixel.get(name, "") for name in codecs]
        emit(f"| {r.label} | {r.transfer_syntax} | {r.size} | {r.packed}{method} | {r.ratio:.3f} | {r.saving:.1f} "
             f"| {r.symbols} | {r.entropy:.3f} | {8 / r.entropy if r.entropy else math.inf:.3f} "
             f"| {1e3 * r.pack_s:.2f} | {1e3 * r.unpack_s:.2f} | " + " | ".join(cells) + " |")
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
