"""The pure codec on real images: lossless round trips checked by a second implementation (OpenJPEG), lossy
targets honoured, reduced-resolution thumbnails, and clear errors."""

from __future__ import annotations

import numpy as np
import openjpeg
import pytest
from medcodec.verify import psnr
from medcodec_plugin_htj2k import codec, codestream
from medcodec_plugin_htj2k.codec import EncodeSettings, Htj2kCodecError, LossyTarget

#: The settings each DICOM syntax uses (what the adapter passes), and whether it is the RPCL one.
SYNTAX_SETTINGS = {
    "201": (EncodeSettings(), False),
    "202": (EncodeSettings(tlm=True), True),
}


def _frames(ds) -> list[np.ndarray]:
    arr = ds.pixel_array
    return list(arr) if int(ds.get("NumberOfFrames", 1) or 1) > 1 else [arr]


@pytest.mark.parametrize("syntax", SYNTAX_SETTINGS)
def test_lossless_frames_decode_bit_exactly_in_openjph_and_openjpeg(real_dataset, image_key: str,
                                                                    syntax: str) -> None:
    """Every lossless codestream we write meets its syntax's rules and decodes bit-exactly in OpenJPEG too."""
    settings, rpcl = SYNTAX_SETTINGS[syntax]
    ds = real_dataset(image_key)
    for frame in _frames(ds)[:4]:
        frame = frame.astype(codec.container_dtype(int(ds.BitsStored), int(ds.PixelRepresentation) == 1))
        stream = codec.encode(frame, settings)
        info = codestream.parse(stream)
        assert codestream.dicom_problems(info, lossless=True, rpcl=rpcl) == []
        np.testing.assert_array_equal(codec.decode(stream), frame)
        np.testing.assert_array_equal(openjpeg.decode(stream), frame)


def test_decompositions_reach_a_64_pixel_lowest_resolution() -> None:
    assert codec.decompositions_for(512, 512) == 5
    assert codec.decompositions_for(4096, 3328) == 6
    assert codec.decompositions_for(1, 1) == 5
    assert codec.decompositions_for(20000, 10) == 9  # 20000 / 2**9 = 39.06 -> 40 px


@pytest.mark.parametrize("max_error", [1, 2, 5, 20])
def test_max_error_target_is_never_exceeded_and_is_lossy(real_dataset, max_error: int) -> None:
    arr = real_dataset("mr12_unsigned_dirty_high_bits").pixel_array
    result = codec.encode_to_target(arr, LossyTarget(max_error=max_error), native_bytes=arr.nbytes)
    decoded = codec.decode_exact(result.stream, codestream.parse(result.stream)).astype(np.int64)
    error = int(np.abs(decoded - arr).max())
    assert not result.reversible and 0 < error <= max_error
    assert len(result.stream) < len(codec.encode(arr, EncodeSettings()))


def test_psnr_and_ratio_targets(real_dataset) -> None:
    arr = real_dataset("ct16_signed").pixel_array
    by_psnr = codec.encode_to_target(arr, LossyTarget(psnr=55), native_bytes=arr.nbytes)
    achieved = psnr(arr, codec.decode(by_psnr.stream))
    assert 55 <= achieved < 56.5, "the search should land just above the target"
    by_ratio = codec.encode_to_target(arr, LossyTarget(ratio=12), native_bytes=arr.nbytes)
    ratio = arr.nbytes / len(by_ratio.stream)
    assert 12 <= ratio < 13
    # Both searches stop at the boundary: a slightly coarser (psnr) / finer (ratio) step misses the target.
    coarser = codec.encode(arr, EncodeSettings(reversible=False, qstep=codec.qstep_for(by_psnr.step * 1.1,
                                                                                      arr.dtype)))
    assert psnr(arr, codec.decode(coarser)) < 55
    finer = codec.encode(arr, EncodeSettings(reversible=False, qstep=codec.qstep_for(by_ratio.step * 0.9,
                                                                                    arr.dtype)))
    assert arr.nbytes / len(finer) < 12


def test_quality_target_out_of_lossy_reach_falls_back_to_lossless(real_dataset) -> None:
    arr = real_dataset("ct16_signed").pixel_array
    result = codec.encode_to_target(arr, LossyTarget(psnr=200), native_bytes=arr.nbytes)
    assert result.reversible and codestream.parse(result.stream).reversible
    np.testing.assert_array_equal(codec.decode(result.stream), arr)


def test_ratio_reached_losslessly_stays_lossless() -> None:
    flat = np.full((256, 256), 1000, dtype=np.uint16)
    result = codec.encode_to_target(flat, LossyTarget(ratio=4), native_bytes=flat.nbytes)
    assert result.reversible


def test_qstep_is_converted_from_stored_units(real_dataset) -> None:
    """OpenJPH's step is relative to the declared 16-bit depth: a step of 4 stored units must stay small on
    12-bit data (passed raw, 4 would quantise by 4 * 65536)."""
    arr = real_dataset("mr12_unsigned_dirty_high_bits").pixel_array
    stream = codec.encode(arr, EncodeSettings(reversible=False, qstep=codec.qstep_for(4, arr.dtype)))
    error = int(np.abs(codec.decode(stream).astype(np.int64) - arr).max())
    assert 0 < error <= 8


@pytest.mark.parametrize("max_size", [32, 64, 128])
def test_thumbnail_comes_from_the_lowest_resolutions(real_dataset, max_size: int) -> None:
    arr = real_dataset("ct16_signed").pixel_array.astype(np.int16)
    stream = codec.encode(arr, EncodeSettings())
    info = codestream.parse(stream)
    reduce = codec.reduce_for(info, max_size)
    thumb = codec.thumbnail(stream, max_size)
    assert thumb.shape == info.resolution_size(reduce) and max(thumb.shape) <= max_size
    assert thumb.shape == (512 >> reduce, 512 >> reduce)
    # The 5-3 low-pass band is close to the block mean of the full image.
    scale = 1 << reduce
    block_mean = arr.reshape(thumb.shape[0], scale, thumb.shape[1], scale).mean(axis=(1, 3))
    assert np.corrcoef(block_mean.ravel(), thumb.ravel().astype(float))[0, 1] > 0.9


def test_thumbnail_of_colour_keeps_three_samples(real_dataset) -> None:
    rgb = real_dataset("us_rgb8").pixel_array
    thumb = codec.thumbnail(codec.encode(rgb, EncodeSettings(colour_transform=True)), 64)
    assert thumb.shape == (30, 64, 3)  # 120x256 halved twice


@pytest.mark.parametrize(("call", "message"), [
    (lambda: codec.container_dtype(17, False), "BitsStored 17 is outside 1-16"),
    (lambda: codec.encode(np.zeros((4, 4), np.float32), EncodeSettings()), "8- or 16-bit integer"),
    (lambda: codec.encode(np.zeros((4, 4, 2), np.uint8), EncodeSettings()), "expected \\(rows, columns"),
    (lambda: codec.encode(np.zeros((4, 4), np.uint8), EncodeSettings(colour_transform=True)), "three samples"),
    (lambda: codec.encode(np.zeros((4, 4), np.uint8), EncodeSettings(decompositions=40)), "0-32"),
    (lambda: codec.encode(np.zeros((4, 4), np.uint8), EncodeSettings(reversible=False, qstep=1e-7)), "minimum"),
    (lambda: LossyTarget(), "exactly one lossy target"),
    (lambda: LossyTarget(psnr=40, ratio=10), "exactly one lossy target"),
    (lambda: LossyTarget(ratio=0.5), "ratio target must be > 1"),
    (lambda: codec.decode(b"\xff\x4f\xff\x51garbage"), "OpenJPH could not decode"),
    (lambda: codec.thumbnail(b"", 0), "at least 1 pixel"),
])
def test_errors_say_what_is_wrong(call, message: str) -> None:
    with pytest.raises(Htj2kCodecError, match=message):
        call()


def test_unreachable_ratio_is_refused() -> None:
    noise = np.random.default_rng(1).integers(0, 65535, (64, 64), dtype=np.uint16)
    with pytest.raises(Htj2kCodecError, match="ratio 5000 is out of reach"):
        codec.encode_to_target(noise, LossyTarget(ratio=5000), native_bytes=noise.nbytes)


def test_irreversible_streams_are_decoded_without_wrap_around(real_dataset) -> None:
    """A real 8-bit DX image reaching 255: OpenJPH (through imagecodecs) wraps overshooting samples to 0;
    decode_exact routes irreversible codestreams to OpenJPEG, which clamps."""
    arr = real_dataset("dx8_monochrome1").pixel_array
    stream = codec.encode(arr, EncodeSettings(reversible=False, qstep=codec.qstep_for(4, arr.dtype)))
    wrapped = np.abs(codec.decode(stream).astype(np.int64) - arr).max()
    exact = np.abs(codec.decode_exact(stream, codestream.parse(stream)).astype(np.int64) - arr).max()
    assert wrapped == 255, "imagecodecs fixed the wrap: decode_exact could use OpenJPH again"
    assert exact <= 8


def test_max_error_target_holds_on_a_saturated_image(real_dataset) -> None:
    arr = real_dataset("dx8_monochrome1").pixel_array
    result = codec.encode_to_target(arr, LossyTarget(max_error=3), native_bytes=arr.nbytes)
    decoded = codec.decode_exact(result.stream, codestream.parse(result.stream))
    assert not result.reversible and np.abs(decoded.astype(np.int64) - arr).max() <= 3


@pytest.mark.parametrize("key", ["emri_small.dcm", "ct16_signed", "dx8_monochrome1", "us_rgb8"])
@pytest.mark.parametrize("reversible", [True, False])
def test_widened_decode_matches_openjpeg_and_thumbnails_do_not_wrap(real_dataset, key: str,
                                                                    reversible: bool) -> None:
    """emri_small (unsigned MR, black background): a plain OpenJPH thumbnail wraps -12 to 65524."""
    arr = real_dataset(key).pixel_array
    arr = arr[0] if key == "emri_small.dcm" else arr
    settings = EncodeSettings(reversible=reversible, qstep=None if reversible else codec.qstep_for(3, arr.dtype))
    stream = codec.encode(arr, settings)
    info = codestream.parse(stream)
    reference = openjpeg.decode(stream).astype(np.int64)
    assert np.abs(codec.decode_widened(stream, info) - reference).max() <= (0 if reversible else 1)
    thumb = codec.thumbnail(stream, max(arr.shape[:2]) // 4)
    step = 1 << codec.reduce_for(info, max(arr.shape[:2]) // 4)
    sub = arr[::step, ::step].astype(float)
    assert thumb.dtype == arr.dtype and thumb.shape == sub.shape
    assert np.corrcoef(sub.ravel(), thumb.ravel().astype(float))[0, 1] > 0.9


def test_openjpeg_threads_do_not_change_the_result(real_dataset) -> None:  # noqa: ANN001
    arr = real_dataset("ct16_signed").pixel_array
    stream = codec.encode(arr, EncodeSettings(reversible=False, qstep=codec.qstep_for(6, arr.dtype)))
    info = codestream.parse(stream)
    np.testing.assert_array_equal(codec.decode_exact(stream, info, threads=2), codec.decode_exact(stream, info))
