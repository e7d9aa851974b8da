"""MIC Native on real images: bit-exact round trips over the whole corpus and pydicom's test files,
thread-count invariance, packing, pydicom glue, clear errors and a bounded fuzz of the decoder."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from medcodec_plugin_mic import native

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
MIC_NATIVE = "2.25.68667338034845433904652776429924625335.1.2"


def _corpus_files() -> list[str]:
    """Every corpus image, once per distinct pixel content (the inventory lists the same pixels in many syntaxes)."""
    inventory = SHARED / "corpus" / "INVENTORY.tsv"
    if not inventory.is_file():
        return []
    seen, files = set(), []
    with inventory.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            key = row["pixel_sha256"] or row["path"]
            if key not in seen:
                seen.add(key)
                files.append(row["path"])
    return files


def _pydicom_files() -> list[str]:
    """pydicom's test files and the pydicom-data package's (listed locally: get_testdata_files may go online)."""
    from importlib.util import find_spec

    from pydicom.data.data_manager import DATA_ROOT

    folders = [Path(DATA_ROOT) / "test_files"]
    spec = find_spec("data_store")  # the pydicom-data distribution
    if spec is not None and spec.origin is not None:
        folders.append(Path(spec.origin).parent / "data")
    return sorted(str(f) for folder in folders for f in folder.rglob("*")
                  if f.is_file() and f.suffix not in {".py", ".pyc", ".txt", ".md", ".json", ".gz", ".bz2", ".zip"})


def _planes(path: Path) -> tuple[int, list[np.ndarray]]:
    """Decode a DICOM file once; return BitsStored and its 2-D sample planes (every frame, every sample)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the deliberately broken test files
        try:
            ds = dcmread(path)
        except (InvalidDicomError, OSError, EOFError) as exc:
            pytest.skip(f"not a readable DICOM file: {exc}")
    if "PixelData" not in ds or "BitsAllocated" not in ds:
        pytest.skip("no pixel data (or no BitsAllocated)")
    if int(ds.BitsAllocated) not in (8, 16):
        pytest.skip(f"BitsAllocated {ds.BitsAllocated} is not an 8-16-bit image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom has no decoder installed for some syntaxes
        pytest.skip(f"pydicom cannot decode it here: {type(exc).__name__}: {str(exc)[:80]}")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(ds.SamplesPerPixel)
    array = array.reshape(frames, int(ds.Rows), int(ds.Columns), samples)
    return int(ds.BitsStored), [array[f, :, :, s] for f in range(frames) for s in range(samples)]


def _round_trip(bits_stored: int, planes: list[np.ndarray]) -> None:
    for plane in planes:
        data = native.encode(plane, bits_stored=bits_stored)
        back = native.decode(data, width=plane.shape[1], height=plane.shape[0])
        assert back.dtype == plane.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back, plane)


@pytest.mark.parametrize("relative", _corpus_files())
def test_every_corpus_image_round_trips(relative: str) -> None:
    _round_trip(*_planes(SHARED / "corpus" / relative))


@pytest.mark.parametrize("path", _pydicom_files(), ids=lambda p: Path(p).name)
def test_every_pydicom_test_file_round_trips(path: str) -> None:
    _round_trip(*_planes(Path(path)))


def _corpus_image(relative: str) -> np.ndarray:
    path = SHARED / "corpus" / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} is not available")
    from pydicom import dcmread

    return dcmread(path).pixel_array


def test_output_does_not_depend_on_the_thread_count() -> None:
    image = _corpus_image("pylibjpeg-data/JPEG2000Lossless/966_fixed.dcm")  # 2128 x 2000 DX
    one = native.encode(image, bits_stored=12, threads=1)
    assert native.read_header(one).strips >= 4
    for threads in (2, 3, 8, 0):
        assert native.encode(image, bits_stored=12, threads=threads) == one, f"{threads} threads"
    for threads in (1, 3, 0):
        np.testing.assert_array_equal(native.decode(one, threads=threads), image)


def test_sparse_histogram_is_packed_and_smaller() -> None:
    """A CT whose values are spread to every 16th code: ranks code it as compactly as the original."""
    from pydicom import examples

    ct = examples.ct.pixel_array
    spread = ((ct.astype(np.int32) - ct.min()) * 16).astype(np.uint16)
    packed = native.encode(spread, bits_stored=16)
    plain = native.encode(spread, bits_stored=16, packing=False)
    assert native.read_header(packed).packed and not native.read_header(plain).packed
    assert len(packed) < 0.8 * len(plain)
    np.testing.assert_array_equal(native.decode(packed), spread)


def test_better_than_jpeg_ls_on_a_real_ct() -> None:
    """A ratio check, not a timing: MIC Native must beat CharLS on pydicom's CT (JPEG-LS: 2.31)."""
    jpeg_ls = pytest.importorskip("jpeg_ls")
    from pydicom import examples

    ct = examples.ct.pixel_array
    jls = jpeg_ls.encode_pixel_data(ct.tobytes(), lossy_error=0, rows=128, columns=128, samples_per_pixel=1,
                                    bits_stored=16)
    assert len(native.encode(ct)) < len(jls)


@pytest.mark.parametrize("name", ["ct", "mr", "overlay"])
def test_pydicom_examples_compress_and_decode(name: str) -> None:
    from pydicom import examples

    ds = getattr(examples, name)
    expected = ds.pixel_array.copy()
    ds.compress(MIC_NATIVE)
    assert ds.file_meta.TransferSyntaxUID == MIC_NATIVE
    np.testing.assert_array_equal(ds.pixel_array, expected)


def test_unmodified_script_compresses_and_reads(tmp_path: Path) -> None:
    """A script that never imports medcodec: compress a multi-frame image with the UID string, save, re-read."""
    source = SHARED / "corpus" / "dcm4che/dcm4che-test-data/src/main/resources/NM-MONO2-16-13x-heart"
    if not source.is_file():
        pytest.skip("corpus NM file is not available")
    script = textwrap.dedent(f"""
        import json, hashlib, pydicom
        ds = pydicom.dcmread({str(source)!r})
        before = hashlib.sha256(ds.pixel_array.tobytes()).hexdigest()
        ds.compress({MIC_NATIVE!r})
        ds.save_as({str(tmp_path / 'out.dcm')!r}, enforce_file_format=True)
        again = pydicom.dcmread({str(tmp_path / 'out.dcm')!r})
        after = hashlib.sha256(again.pixel_array.tobytes()).hexdigest()
        print(json.dumps({{"ts": str(again.file_meta.TransferSyntaxUID), "name": again.file_meta.TransferSyntaxUID.name,
                           "same": before == after, "frames": int(again.NumberOfFrames), "size": len(again.PixelData)}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ts"] == MIC_NATIVE and result["same"] and result["frames"] == 13
    assert result["name"] == "MIC Native Lossless (medcodec private)"
    assert result["size"] < 13 * 64 * 64 * 2 / 2  # it really compressed


def test_options_reach_the_encoder() -> None:
    from pydicom import examples

    ds = examples.ct
    expected = ds.pixel_array.copy()
    ds.compress(MIC_NATIVE, mic_native_predictor="med", mic_native_threads=2)
    np.testing.assert_array_equal(ds.pixel_array, expected)
    with pytest.raises(Exception, match="mic_native.*predictor 'ls9' is not one of auto, med"):
        examples.ct.compress(MIC_NATIVE, mic_native_predictor="ls9")


def test_rgb_is_refused_clearly() -> None:
    from pydicom import examples

    with pytest.raises(Exception, match="MIC Native codes one sample per pixel; SamplesPerPixel=3"):
        examples.rgb_color.compress(MIC_NATIVE)


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    from pydicom import examples

    ct = examples.ct.pixel_array
    return [
        native.encode(ct),
        native.encode(((ct.astype(np.int32) - ct.min()) * 3).astype(np.uint16), packing=True),
        native.encode(examples.mr.pixel_array, predictor="med"),
        native.encode((ct[:40, :50] >> 4).astype(np.int8)),
    ]


def test_decode_errors_name_the_codec_and_the_problem(frames: list[bytes]) -> None:
    good = frames[0]
    cases = {
        b"XXXX" + good[4:]: "bad magic",
        good[:4] + b"\x09" + good[5:]: "frame version 9 is not supported",
        good[:20]: "shorter than the 28-byte frame header",
        good[: len(good) // 2]: "strips hold .* bytes but",
        good + b"\x00\x00": "strips hold .* bytes but",
    }
    for data, message in cases.items():
        with pytest.raises(native.NativeCodecError, match=f"^mic_native: corrupt MIC stream: .*{message}"):
            native.decode(data)
    with pytest.raises(native.NativeCodecError, match="frame is 128x128 but 64x64 was expected"):
        native.decode(good, width=64, height=64)
    np.testing.assert_array_equal(native.decode(good + b"\x00"), native.decode(good))  # DICOM's pad byte


def test_encode_errors_are_clear() -> None:
    with pytest.raises(native.NativeCodecError, match="expected a 2-D single-channel frame"):
        native.encode(np.zeros((2, 3, 3), np.uint16))
    with pytest.raises(native.NativeCodecError, match="samples must be 8- or 16-bit integers"):
        native.encode(np.zeros((4, 4), np.float32))
    with pytest.raises(native.NativeCodecError, match="cannot encode an empty 0x4 frame"):
        native.encode(np.zeros((4, 0), np.uint16))
    with pytest.raises(native.NativeCodecError, match="BitsStored 17 is outside 1..16"):
        native.encode(np.zeros((4, 4), np.uint16), bits_stored=17)


def test_bounded_fuzz_of_the_decoder(frames: list[bytes]) -> None:
    """Mutated frames either decode or raise NativeCodecError: never a panic, crash or hang (about 3 s)."""
    rng = np.random.default_rng(20261122)
    deadline = time.monotonic() + 3.0
    decoded = rejected = 0
    while time.monotonic() < deadline:
        data = bytearray(frames[int(rng.integers(len(frames)))])
        kind = int(rng.integers(4))
        if kind == 0:  # flip a few bits anywhere, header included
            for _ in range(int(rng.integers(1, 5))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:  # truncate
            del data[int(rng.integers(len(data))):]
        elif kind == 2:  # overwrite a run with noise
            start = int(rng.integers(len(data)))
            data[start:start + 32] = rng.integers(0, 256, len(data[start:start + 32]), dtype=np.uint8).tobytes()
        else:  # random bytes behind a valid fixed header
            data[28:] = rng.integers(0, 256, len(data) - 28, dtype=np.uint8).tobytes()
        try:
            native.decode(bytes(data), threads=1 + decoded % 2)
            decoded += 1
        except native.NativeCodecError as exc:
            assert str(exc).startswith("mic_native: ")
            rejected += 1
    assert rejected > 100, (decoded, rejected)
