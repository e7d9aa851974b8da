"""Standard codecs on real images: bit-exact round trips, independent decoders, and the JPEG-LS sign trap."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import medcodec
import numpy as np
import pydicom
import pytest
from medcodec.registry import image_kind
from medcodec.testing import corpus_inventory, decodable, pydicom_test_images
from pydicom.data import get_testdata_file

LOSSLESS = ("jpeg_ls_lossless", "jpeg2000_lossless", "rle_lossless", "deflated_image_frame")


def _real_images() -> list[tuple[str, pydicom.Dataset]]:
    images = [(str(img.path.relative_to(img.path.parents[1])), ds)
              for img, ds in decodable(corpus_inventory(), max_bytes=6_000_000)]
    for path in pydicom_test_images(max_bytes=2_000_000):
        ds = pydicom.dcmread(path)
        try:
            ds.pixel_array  # noqa: B018 - pydicom's test files include deliberately broken ones
        except Exception:  # noqa: BLE001, S112
            continue
        images.append((f"pydicom/{path.name}", ds))
    return images


REAL = _real_images()


def test_the_real_image_set_is_not_empty() -> None:
    corpus = [label for label, _ in REAL if not label.startswith("pydicom/")]
    assert len(REAL) >= 20, [label for label, _ in REAL]
    assert corpus or not corpus_inventory(), "shared/corpus is present but no image was decodable"


@pytest.mark.parametrize("codec", LOSSLESS)
def test_lossless_round_trip_is_bit_exact_on_real_images(codec: str) -> None:
    spec = medcodec.get_codec(codec)
    tried = 0
    for label, original in REAL:
        ds = copy.deepcopy(original)
        if spec.supports(**image_kind(ds)):
            continue
        expected = ds.pixel_array.copy()
        report = medcodec.compress(ds, codec)  # verifies bit-exactness itself, then we check again
        assert report.verified and not report.lossy, label
        np.testing.assert_array_equal(ds.pixel_array, expected, err_msg=label)
        tried += 1
    assert tried >= 10


def _gdcm_raw(path: Path, out: Path) -> np.ndarray:
    done = subprocess.run(["gdcmconv", "--raw", str(path), str(out)], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return pydicom.dcmread(out).pixel_array


@pytest.mark.skipif(shutil.which("gdcmconv") is None, reason="gdcmconv (Debian libgdcm-tools) is not installed")
@pytest.mark.parametrize("codec", ["jpeg_ls_lossless", "jpeg2000_lossless", "jpeg_ls_near_lossless"])
def test_gdcm_decodes_our_output_bit_exact(codec: str, tmp_path: Path) -> None:
    """An independent implementation (GDCM: CharLS / OpenJPEG builds of Debian) reads what we write."""
    checked = 0
    for label, original in REAL[:: max(len(REAL) // 12, 1)]:
        ds = copy.deepcopy(original)
        if medcodec.get_codec(codec).supports(**image_kind(ds)):
            continue
        if codec == "jpeg_ls_near_lossless" and (ds.PixelRepresentation == 1 or
                                                 ds.get("LossyImageCompression") == "01"):
            continue
        medcodec.compress(ds, codec)
        ours = ds.pixel_array
        src = tmp_path / f"{checked}.dcm"
        ds.save_as(src, enforce_file_format=True)
        theirs = _gdcm_raw(src, tmp_path / f"{checked}.raw.dcm")
        np.testing.assert_array_equal(theirs, ours, err_msg=label)
        checked += 1
    assert checked >= 4


def test_jpeg_ls_near_lossless_on_signed_data_never_returns_a_wrapped_result() -> None:
    """pydicom-data's mlut_18 (signed 12-bit): CharLS alone returns max error 4095 for NEAR=2."""
    path = get_testdata_file("mlut_18.dcm")
    if path is None:
        pytest.skip("pydicom-data is not installed")
    ds = pydicom.dcmread(path)
    from medcodec.adapters.frames import samples
    from pydicom.pixels.encoders.base import EncodeRunner
    from pydicom.pixels.encoders.pyjpegls import _encode_frame

    # The trap is real: pydicom's own plugin, without medcodec, wraps silently.
    runner = EncodeRunner(pydicom.uid.JPEGLSNearLossless)
    runner.set_source(ds)
    runner.set_options(jls_error=2)
    import jpeg_ls

    frame = runner.get_frame(None)
    decoded, _ = jpeg_ls.decode_buffer(bytes(_encode_frame(frame, runner)))
    assert np.abs(samples(frame, 12, True) - samples(decoded, 12, True)).max() > 2

    # medcodec refuses instead, through pydicom's own API and through medcodec.compress.
    with pytest.raises(RuntimeError, match=r"max error 4095 exceeds the requested NEAR=2\. Signed data wraps"):
        pydicom.dcmread(path).compress(pydicom.uid.JPEGLSNearLossless, jls_error=2)
    # medcodec.compress hands pydicom the array, whose own range check refuses first; either way: refused.
    with pytest.raises(medcodec.EncodeError,
                       match="jpeg_ls_near_lossless.*(Signed data wraps|supported range of pixel values)"):
        medcodec.compress(pydicom.dcmread(path), "jpeg_ls_near_lossless", options={"jls_error": 2})


def test_jpeg_ls_near_lossless_keeps_its_bound_on_unsigned_real_data() -> None:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    if ds.PixelRepresentation:
        ds.PixelRepresentation = 0
    expected = ds.pixel_array.astype(np.int64)
    report = medcodec.compress(ds, "jpeg_ls_near_lossless", options={"jls_error": 3})
    assert report.lossy and 0 < report.max_abs_error <= 3
    assert np.abs(ds.pixel_array.astype(np.int64) - expected).max() <= 3


def test_lossy_result_outside_requested_psnr_is_rejected() -> None:
    ds = pydicom.examples.ct
    with pytest.raises(medcodec.VerificationError, match=r"PSNR .* dB is below the required 99 dB"):
        medcodec.compress(ds, request=medcodec.CompressionRequest(
            codec="jpeg2000", options={"j2k_cr": [40]}, min_psnr=99))
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_compressed_ybr_source_keeps_its_stored_values() -> None:
    """A YBR_FULL RLE source re-encoded losslessly keeps its YBR samples (no silent YBR->RGB rounding)."""
    matches = [img.path for img in corpus_inventory() if img.path.name == "YBR_FULL-RLE.dcm"]
    if not matches:
        pytest.skip("shared/corpus is not present")
    source = pydicom.dcmread(matches[0])
    source.pixel_array_options(as_rgb=False)
    stored = source.pixel_array.copy()
    ds = pydicom.dcmread(matches[0])
    report = medcodec.compress(ds, "jpeg_ls_lossless")
    assert report.verified and not report.lossy
    assert ds.PhotometricInterpretation == "YBR_FULL"
    ds.pixel_array_options(as_rgb=False)
    np.testing.assert_array_equal(ds.pixel_array, stored)
