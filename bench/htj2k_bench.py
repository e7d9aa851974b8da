"""HTJ2K benchmark: ratio and encode/decode speed of HTJ2K lossless (OpenJPH through imagecodecs), the cost of
going through pydicom (``ds.compress`` / ``ds.pixel_array``) against the raw library calls, and JPEG 2000
lossless (OpenJPEG) and JPEG-LS lossless (CharLS) measured the same way in the same run.

    MEDCODEC_LOAD_PLUGINS=htj2k uv run python bench/htj2k_bench.py [--runs 5] [--quick] [--markdown]

Images: large 10-16-bit radiographs and MR/CT from pydicom-data (NEMA WG04 J2K files, decoded once), the
shared corpus' signed CT, and an 8-frame 1024x1024 MR series built from one real slice (shifted copies) for
the multi-frame rows. MB/s = native pixel bytes / 1e6 / seconds. Every variant is run ``--runs`` times,
interleaved round-robin with the others so that load from other users of the machine hits them alike, and
the best (minimum) time is reported; every result is checked bit-exact before it is timed.
Single-frame rows use one thread (``htj2k_threads=1``); the multi-frame rows compare 1 thread with all cores.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import imagecodecs
import jpeg_ls
import medcodec
import numpy as np
import openjpeg
import pydicom
from medcodec_plugin_htj2k import codec, readahead
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, HTJ2KLosslessRPCL, JPEG2000Lossless, JPEGLSLossless

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
PYDICOM_DATA = {
    "RG1 CR 1955x1841 15-bit": "RG1_J2KR.dcm",
    "RG3 CR 1760x1760 10-bit": "RG3_J2KR.dcm",
    "MR2 MR 1024x1024 12-bit": "MR2_J2KR.dcm",
    "693 CT 512x512 s16": "693_J2KR.dcm",
}
CORPUS = {"CTImage CT 512x512 s16": "cornerstone3D/CTImage.dcm"}


def native_dataset(path: Path | str, frames: np.ndarray | None = None) -> pydicom.Dataset:
    """The file as an uncompressed Explicit VR LE dataset (pixels decoded once), optionally with new frames."""
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array if frames is None else frames
    if frames is not None:
        ds.NumberOfFrames = len(frames)
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths", "LossyImageCompression"):
        if keyword in ds:
            del ds[keyword]
    return ds


def images(quick: bool) -> list[tuple[str, pydicom.Dataset]]:
    found = []
    for label, name in PYDICOM_DATA.items():
        path = get_testdata_file(name)
        if path is not None:
            found.append((label, native_dataset(path)))
    for label, rel in CORPUS.items():
        if (SHARED / "corpus" / rel).is_file():
            found.append((label, native_dataset(SHARED / "corpus" / rel)))
    if not found:
        raise SystemExit("no benchmark images: install pydicom-data (root dev group) or provide ../shared/corpus")
    return found[:2] if quick else found


class Timer:
    """Round-robin timing: every variant runs once per round; the best time per variant is kept."""

    def __init__(self) -> None:
        self.best: dict[str, float] = {}
        self.cpu_per_wall: dict[str, float] = {}  # process CPU time / wall time of the best run: >1 = threads
        self.variants: list[tuple[str, Callable[[], Any], Callable[[], None] | None]] = []

    def add(self, name: str, run: Callable[[], Any], setup: Callable[[], None] | None = None) -> None:
        self.variants.append((name, run, setup))

    def run(self, runs: int) -> dict[str, float]:
        for _ in range(runs):
            for name, run, setup in self.variants:
                if setup is not None:
                    setup()
                start, cpu = time.perf_counter(), time.process_time()
                run()
                wall = time.perf_counter() - start
                if wall < self.best.get(name, float("inf")):
                    self.best[name] = wall
                    self.cpu_per_wall[name] = (time.process_time() - cpu) / wall
        return self.best


class PydicomPath:
    """``ds.compress`` on fresh copies (copied before the clock starts) and ``ds.pixel_array`` uncached."""

    def __init__(self, ds: pydicom.Dataset, uid: str, **options: Any) -> None:
        self.source, self.uid, self.options = ds, uid, options
        self.todo: pydicom.Dataset | None = None
        self.done = copy.deepcopy(ds)
        self.done.compress(uid, generate_instance_uid=False, **options)

    def fresh_copy(self) -> None:
        self.todo = copy.deepcopy(self.source)

    def compress(self) -> None:
        assert self.todo is not None
        self.todo.compress(self.uid, generate_instance_uid=False, **self.options)

    def uncache(self) -> None:
        self.done._pixel_array = None
        self.done._pixel_id = {}

    def decode(self) -> np.ndarray:
        return self.done.pixel_array


def measure(label: str, ds: pydicom.Dataset, runs: int) -> list[dict[str, Any]]:
    arr = ds.pixel_array.copy()
    bits, signed = int(ds.BitsStored), int(ds.PixelRepresentation) == 1
    nbytes = arr.nbytes
    levels = codec.decompositions_for(*arr.shape[:2])
    ht_stream = bytes(imagecodecs.htj2k_encode(arr, reversible=True, tlm=True, resolutions=levels))
    j2k_stream = openjpeg.encode(arr, bits_stored=bits)
    jls_stream = bytes(jpeg_ls.encode_pixel_data(arr.tobytes(), lossy_error=0, rows=arr.shape[0],
                                                 columns=arr.shape[1], samples_per_pixel=1, bits_stored=bits))
    for name, decoded in (("htj2k", imagecodecs.htj2k_decode(ht_stream)), ("j2k", openjpeg.decode(j2k_stream)),
                          ("jls", _jls_values(jpeg_ls.decode_buffer(jls_stream), arr, bits, signed))):
        assert np.array_equal(decoded, arr), f"{label}: raw {name} round trip is not lossless"

    ht = PydicomPath(ds, HTJ2KLosslessRPCL, htj2k_threads=1)
    ht.done.pixel_array_options(htj2k_threads=1)
    ht_openjpeg = copy.deepcopy(ht.done)
    ht_openjpeg.pixel_array_options(decoding_plugin="pylibjpeg")
    j2k = PydicomPath(ds, JPEG2000Lossless)
    jls = PydicomPath(ds, JPEGLSLossless)
    for path in (ht, j2k, jls):
        assert np.array_equal(path.decode(), arr), f"{label}: pydicom round trip is not lossless"
    assert np.array_equal(ht_openjpeg.pixel_array, arr)

    timer = Timer()
    timer.add("ht raw enc", lambda: imagecodecs.htj2k_encode(arr, reversible=True, tlm=True, resolutions=levels))
    timer.add("ht raw dec", lambda: imagecodecs.htj2k_decode(ht_stream))
    timer.add("ht pydicom enc", ht.compress, ht.fresh_copy)
    timer.add("ht pydicom dec", ht.decode, ht.uncache)

    def openjpeg_default() -> None:
        ht_openjpeg._pixel_array, ht_openjpeg._pixel_id = None, {}

    timer.add("ht pydicom dec openjpeg", lambda: ht_openjpeg.pixel_array, openjpeg_default)
    timer.add("j2k raw enc", lambda: openjpeg.encode(arr, bits_stored=bits))
    timer.add("j2k raw dec", lambda: openjpeg.decode(j2k_stream))
    timer.add("j2k pydicom enc", j2k.compress, j2k.fresh_copy)
    timer.add("j2k pydicom dec", j2k.decode, j2k.uncache)
    raw = arr.tobytes()
    timer.add("jls raw enc", lambda: jpeg_ls.encode_pixel_data(raw, lossy_error=0, rows=arr.shape[0],
                                                               columns=arr.shape[1], samples_per_pixel=1,
                                                               bits_stored=bits))
    timer.add("jls raw dec", lambda: jpeg_ls.decode_buffer(jls_stream))
    timer.add("jls pydicom enc", jls.compress, jls.fresh_copy)
    timer.add("jls pydicom dec", jls.decode, jls.uncache)
    best = timer.run(runs)

    def row(codec_name: str, key: str, stream_bytes: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "image": label, "codec": codec_name, "ratio": nbytes / stream_bytes,
            "raw_enc": nbytes / 1e6 / best[f"{key} raw enc"], "raw_dec": nbytes / 1e6 / best[f"{key} raw dec"],
            "py_enc": nbytes / 1e6 / best[f"{key} pydicom enc"], "py_dec": nbytes / 1e6 / best[f"{key} pydicom dec"],
            "enc_over": best[f"{key} pydicom enc"] / best[f"{key} raw enc"],
            "dec_over": best[f"{key} pydicom dec"] / best[f"{key} raw dec"],
            **(extra or {}),
        }

    return [
        row("HTJ2K lossless RPCL (OpenJPH)", "ht", len(ht_stream),
            {"alt_dec": nbytes / 1e6 / best["ht pydicom dec openjpeg"]}),
        row("JPEG 2000 lossless (OpenJPEG)", "j2k", len(j2k_stream)),
        row("JPEG-LS lossless (CharLS)", "jls", len(jls_stream)),
    ]


def _jls_values(decoded: tuple[bytearray, dict[str, Any]], like: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """CharLS returns the stored bit pattern as bytes; sign-extend it the way pydicom does."""
    buffer, _info = decoded
    values = np.frombuffer(buffer, dtype="<u2" if bits > 8 else np.uint8).astype(np.int64).reshape(like.shape)
    if signed:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return values.astype(like.dtype)


LOSSY_TARGETS = ({"htj2k_max_error": 2}, {"htj2k_psnr": 55.0}, {"htj2k_ratio": 10.0})


def measure_lossy(label: str, ds: pydicom.Dataset, runs: int) -> list[dict[str, Any]]:
    """.203 with each lossy target through ds.compress / ds.pixel_array: what the search costs and gives."""
    from medcodec.verify import compare

    arr = ds.pixel_array.copy()
    rows = []
    for options in LOSSY_TARGETS:
        path = PydicomPath(ds, "1.2.840.10008.1.2.4.203", htj2k_threads=1, **options)
        path.done.pixel_array_options(htj2k_threads=1)
        result = compare(arr, path.decode())
        timer = Timer()
        timer.add("enc", path.compress, path.fresh_copy)
        timer.add("dec", path.decode, path.uncache)
        best = timer.run(max(1, runs // 2))
        (name, value), = options.items()
        rows.append({"image": label, "target": f"{name}={value:g}", "ratio": arr.nbytes / len(path.done.PixelData),
                     "psnr": result.psnr, "max_error": result.max_abs_error,
                     "enc": arr.nbytes / 1e6 / best["enc"], "dec": arr.nbytes / 1e6 / best["dec"]})
    return rows


def measure_multiframe(runs: int) -> dict[str, Any] | None:
    path = get_testdata_file("MR2_J2KR.dcm")
    if path is None:
        return None
    slice_ = pydicom.dcmread(path).pixel_array
    frames = np.stack([np.roll(slice_, 61 * i, axis=i % 2) for i in range(8)])  # 8 distinct real-looking frames
    ds = native_dataset(path, frames)
    cores = readahead.available_cores()
    serial = PydicomPath(ds, HTJ2KLosslessRPCL, htj2k_threads=1)
    parallel = PydicomPath(ds, HTJ2KLosslessRPCL, htj2k_threads=cores)
    assert serial.done.PixelData == parallel.done.PixelData, "parallel encode differs from serial"
    serial.done.pixel_array_options(htj2k_threads=1)
    parallel.done.pixel_array_options(htj2k_threads=cores)
    assert np.array_equal(parallel.decode(), frames) and np.array_equal(serial.decode(), frames)
    levels = codec.decompositions_for(1024, 1024)
    streams = [bytes(imagecodecs.htj2k_encode(f, reversible=True, tlm=True, resolutions=levels)) for f in frames]
    timer = Timer()
    timer.add("raw enc", lambda: [imagecodecs.htj2k_encode(f, reversible=True, tlm=True, resolutions=levels)
                                  for f in frames])
    timer.add("raw dec", lambda: [imagecodecs.htj2k_decode(s) for s in streams])
    # Control: the same raw calls on a plain thread pool show whether the machine grants this process the cores.
    pool = ThreadPoolExecutor(cores)
    timer.add("raw enc N", lambda: list(pool.map(
        lambda f: imagecodecs.htj2k_encode(f, reversible=True, tlm=True, resolutions=levels), frames)))
    timer.add("raw dec N", lambda: list(pool.map(imagecodecs.htj2k_decode, streams)))
    timer.add("enc 1", serial.compress, serial.fresh_copy)
    timer.add("enc N", parallel.compress, parallel.fresh_copy)
    timer.add("dec 1", serial.decode, serial.uncache)
    timer.add("dec N", parallel.decode, parallel.uncache)
    best = timer.run(runs)
    pool.shutdown()
    mb = frames.nbytes / 1e6
    return {"cores": cores, "mb": mb, **{key: mb / value for key, value in best.items()},
            **{f"{key} cpu": value for key, value in timer.cpu_per_wall.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two images, two runs")
    parser.add_argument("--markdown", action="store_true", help="print only the Markdown tables")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    medcodec.install()

    found = images(args.quick)
    rows = [r for label, ds in found for r in measure(label, ds, runs)]
    lossy = [r for label, ds in found for r in measure_lossy(label, ds, runs)]
    multi = measure_multiframe(runs)
    if not args.markdown:
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, imagecodecs {imagecodecs.__version__} ({imagecodecs.htj2k_version()}),"
              f" pylibjpeg-openjpeg {openjpeg.__version__}, pyjpegls, pydicom {pydicom.__version__}; best of {runs}"
              f" round-robin runs; load average at the end {os.getloadavg()[0]:.2f}")
    print("| image | codec | ratio | raw enc MB/s | ds.compress MB/s | enc overhead | raw dec MB/s | "
          "ds.pixel_array MB/s | dec overhead | pixel_array via OpenJPEG MB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        alt = f"{r['alt_dec']:.0f}" if "alt_dec" in r else "–"
        print(f"| {r['image']} | {r['codec']} | {r['ratio']:.2f} | {r['raw_enc']:.0f} | {r['py_enc']:.0f} | "
              f"×{r['enc_over']:.2f} | {r['raw_dec']:.0f} | {r['py_dec']:.0f} | ×{r['dec_over']:.2f} | {alt} |")
    print()
    by_codec: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_codec.setdefault(r["codec"], []).append(r)
    print("| codec (all images) | ratio (mean over images) | enc overhead (median) | "
          "dec overhead (median) |")
    print("|---|---|---|---|")
    for name, group in by_codec.items():
        print(f"| {name} | {np.mean([g['ratio'] for g in group]):.2f} | ×{np.median([g['enc_over'] for g in group]):.2f}"
              f" | ×{np.median([g['dec_over'] for g in group]):.2f} |")
    print()
    print("HTJ2K lossy (.203) through ds.compress / ds.pixel_array, one thread (the search encodes each frame 7-10")
    print("times and, for quality targets, decodes each candidate with OpenJPEG; lossy frames decode with OpenJPEG):")
    print()
    print("| image | target | ratio | PSNR dB | max error | ds.compress MB/s | ds.pixel_array MB/s |")
    print("|---|---|---|---|---|---|---|")
    for r in lossy:
        psnr = "lossless" if r["psnr"] is None else f"{r['psnr']:.1f}"
        print(f"| {r['image']} | {r['target']} | {r['ratio']:.1f} | {psnr} | {r['max_error']:g} | {r['enc']:.1f} | "
              f"{r['dec']:.0f} |")
    if multi is not None:
        print()
        print(f"Multi-frame: 8 x 1024x1024 12-bit MR frames ({multi['mb']:.1f} MB), HTJ2K lossless RPCL, "
              f"{multi['cores']} cores:")
        print()
        print("| path | encode MB/s | encode CPU/wall | decode MB/s | decode CPU/wall |")
        print("|---|---|---|---|---|")
        print(f"| raw imagecodecs, frame by frame, 1 thread | {multi['raw enc']:.0f} | {multi['raw enc cpu']:.2f} | "
              f"{multi['raw dec']:.0f} | {multi['raw dec cpu']:.2f} |")
        print(f"| raw imagecodecs on a plain {multi['cores']}-thread pool (control) | {multi['raw enc N']:.0f} | "
              f"{multi['raw enc N cpu']:.2f} | {multi['raw dec N']:.0f} | {multi['raw dec N cpu']:.2f} |")
        print(f"| pydicom, htj2k_threads=1 | {multi['enc 1']:.0f} | {multi['enc 1 cpu']:.2f} | {multi['dec 1']:.0f} | "
              f"{multi['dec 1 cpu']:.2f} |")
        print(f"| pydicom, htj2k_threads={multi['cores']} (default) | {multi['enc N']:.0f} "
              f"(×{multi['enc N'] / multi['enc 1']:.2f}) | {multi['enc N cpu']:.2f} | {multi['dec N']:.0f} "
              f"(×{multi['dec N'] / multi['dec 1']:.2f}) | {multi['dec N cpu']:.2f} |")


if __name__ == "__main__":
    main()
