"""The pure MMPC codec: golden vectors from the seed's encoder/decoder, version 2, stages and errors."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from medcodec_plugin_dct_teaching import codec, layout, rle
from medcodec_plugin_dct_teaching.bitstream import V1_HEADER_SIZE, Flags, MMPCError, parse_header
from medcodec_plugin_dct_teaching.deblock import max_shift
from medcodec_plugin_dct_teaching.entropy import EntropyCoder
from medcodec_plugin_dct_teaching.quantise import max_pixel_error
from medcodec_plugin_dct_teaching.transform import dct_matrix, forward_dct, image_to_blocks, inverse_dct
from PIL import Image

QUALITIES = (10, 30, 60)
GOLDEN_INPUTS = ("CT_small", "MR_small")  # pydicom's bundled files the mmpc-golden vectors were made from
Pixels = Callable[[str], npt.NDArray[np.integer]]
GOLDEN_CASES = [(name, q) for name in GOLDEN_INPUTS for q in QUALITIES]


# --- version 1: byte-exact with the seed ----------------------------------------------------------------
@pytest.mark.parametrize(("name", "quality"), GOLDEN_CASES)
def test_encoder_bytes_equal_the_seed_encoder(
    mmpc_golden: Path, name: str, quality: int, pydicom_pixels: Pixels
) -> None:
    golden = (mmpc_golden / f"{name}_q{quality}.mmpc").read_bytes()
    # CT_small and MR_small are signed 16-bit files with no negative value: v1 carries them without loss.
    assert codec.encode(pydicom_pixels(name), quality) == golden


@pytest.mark.parametrize(("name", "quality"), GOLDEN_CASES)
def test_decoder_equals_the_seed_decoder(mmpc_golden: Path, name: str, quality: int) -> None:
    reference = np.array(Image.open(mmpc_golden / f"{name}_q{quality}_ref.png"))
    decoded = codec.decode((mmpc_golden / f"{name}_q{quality}.mmpc").read_bytes())
    assert decoded.header.version == 1
    assert decoded.pixels.dtype == reference.dtype == np.uint16
    np.testing.assert_array_equal(decoded.pixels, reference)


def test_v1_payload_without_rle_decodes_through_the_documented_fallback(mmpc_golden: Path) -> None:
    """The seed's spec: if RLE-decoding gives the wrong length, read the zlib output as raw int16."""
    golden = (mmpc_golden / "CT_small_q30.mmpc").read_bytes()
    header = parse_header(golden)
    raw = rle.rle_decode(zlib.decompress(golden[V1_HEADER_SIZE:]))
    payload = zlib.compress(raw, 6)
    stream = golden[:13] + struct.pack(">I", len(payload)) + payload
    np.testing.assert_array_equal(codec.decode(stream).pixels, codec.decode(golden).pixels)
    assert header.quant_step == 30


# --- version 2: what the seed gets wrong -----------------------------------------------------------------
def test_signed_ct_round_trips_through_v2_without_clipping(signed_ct: pydicom.Dataset) -> None:
    pixels = signed_ct.pixel_array
    assert pixels.min() == -2000  # field-of-view padding: the seed's decoder turned it into 0
    with pytest.raises(MMPCError, match="negative samples would be clipped to 0"):
        codec.encode(pixels, 30, version=1)
    stream = codec.encode(pixels, 30)
    decoded = codec.decode(stream)
    assert decoded.header.version == 2 and decoded.header.signed
    assert decoded.pixels.dtype == np.int16
    error = np.abs(decoded.pixels.astype(np.int64) - pixels)
    assert error.max() <= max_pixel_error(30)
    assert decoded.pixels.min() <= -1990  # the padding survives
    assert np.sqrt(np.mean(error.astype(float) ** 2)) < 10  # the seed reported RMSE ~922 on such slices


def test_bright_blocks_get_32_bit_coefficients(full_range_signed: pydicom.Dataset) -> None:
    pixels = full_range_signed.pixel_array
    levels = np.round(forward_dct(image_to_blocks(pixels)))
    assert np.abs(levels).max() > 32767  # what the seed's int16 cast silently wraps around
    decoded = codec.decode(codec.encode(pixels, 1))
    assert decoded.header.coefficient_bytes == 4
    assert np.abs(decoded.pixels.astype(np.int64) - pixels).max() <= max_pixel_error(1)


def test_bright_unsigned_mr_overflows_v1_and_falls_back_to_v2(pydicom_pixels: Pixels) -> None:
    # A real MR slice lifted into the top of the 16-bit range: block means > 4095, so DC > 32767 at step 1.
    bright = pydicom_pixels("MR_small").astype(np.uint16) + np.uint16(60000)
    with pytest.raises(MMPCError, match="overflow int16"):
        codec.encode(bright, 1, version=1)
    decoded = codec.decode(codec.encode(bright, 1))
    assert decoded.header.version == 2 and not decoded.header.signed
    assert np.abs(decoded.pixels.astype(np.int64) - bright).max() <= 1


def test_bits_stored_bounds_the_v2_clip(shared_dir: Path) -> None:
    ds = pydicom.dcmread(shared_dir / "corpus/dcm_qa_12bit/In/12bitSigned_0x0F0F.dcm")
    pixels = ds.pixel_array  # signed 12-bit, -2048..2047
    decoded = codec.decode(codec.encode(pixels, 60, bits_allocated=16, bits_stored=12))
    assert decoded.header.sample_range == (-2048, 2047)
    assert -2048 <= decoded.pixels.min() and decoded.pixels.max() <= 2047
    assert np.abs(decoded.pixels.astype(np.int64) - pixels).max() <= max_pixel_error(60)


def test_volume_is_one_stream_per_slice(nm_volume: pydicom.Dataset) -> None:
    volume = nm_volume.pixel_array
    data = codec.encode_volume(volume, 10)
    decoded = codec.decode_all(data)
    assert len(decoded) == volume.shape[0] == 13
    stacked = codec.stack(decoded)
    assert stacked.shape == volume.shape
    assert np.abs(stacked.astype(np.int64) - volume).max() <= max_pixel_error(10)
    with pytest.raises(MMPCError, match="found 13"):
        codec.decode(data)


# --- the improved profile ----------------------------------------------------------------------------------
@pytest.mark.parametrize("quality", QUALITIES)
def test_improved_profile_is_smaller_and_stays_within_its_bound(signed_ct: pydicom.Dataset, quality: int) -> None:
    pixels = signed_ct.pixel_array
    seed = codec.encode(pixels, quality)
    improved = codec.encode(pixels, quality, pipeline=codec.IMPROVED)
    assert len(improved) < 0.8 * len(seed)
    decoded = codec.decode(improved)
    assert Flags.DEBLOCK in decoded.header.flags and decoded.header.entropy_coder is EntropyCoder.LZMA
    error = np.abs(decoded.pixels.astype(np.int64) - pixels).max()
    assert error <= max_pixel_error(quality) + max_shift(quality)


@pytest.mark.parametrize("stage", ["zigzag", "dc_prediction", "band_planes", "rle", "deblock"])
def test_each_stage_alone_round_trips(stage: str, pydicom_pixels: Pixels) -> None:
    pixels = pydicom_pixels("CT_small")
    pipeline = codec.Pipeline(**{stage: stage != "rle"}) if stage != "rle" else codec.Pipeline(rle=False)
    decoded = codec.decode(codec.encode(pixels, 20, pipeline=pipeline))
    plain = codec.decode(codec.encode(pixels, 20, version=2))
    if stage == "deblock":
        assert not np.array_equal(decoded.pixels, plain.pixels)
        assert np.abs(decoded.pixels.astype(np.int64) - plain.pixels).max() <= max_shift(20) + 1
    else:  # lossless stages: identical reconstruction
        np.testing.assert_array_equal(decoded.pixels, plain.pixels)


# --- building blocks -------------------------------------------------------------------------------------
def test_dct_matrix_is_orthonormal_and_the_transform_inverts(pydicom_pixels: Pixels) -> None:
    m = dct_matrix()
    np.testing.assert_allclose(m @ m.T, np.eye(8), atol=1e-12)
    blocks = image_to_blocks(pydicom_pixels("MR_small"))
    np.testing.assert_allclose(inverse_dct(forward_dct(blocks)), blocks, atol=1e-9)


def test_zigzag_order_is_jpegs() -> None:
    assert layout.zigzag_order(8)[:10].tolist() == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24]
    assert sorted(layout.zigzag_order(8).tolist()) == list(range(64))


def _loop_rle(data: bytes) -> bytes:
    """Test oracle: the seed's byte-at-a-time RLE, written as the obvious loop."""
    out = bytearray()
    for value in data:
        if out and out[-1] == value and out[-2] < 255:
            out[-2] += 1
        else:
            out += bytes([1, value])
    return bytes(out)


def test_vectorised_rle_matches_the_loop_on_real_coefficients(mmpc_golden: Path) -> None:
    coefficients = rle.rle_decode(zlib.decompress((mmpc_golden / "MR_small_q60.mmpc").read_bytes()[17:]))
    long_runs = bytes(300) + b"\x07" * 256 + b"\x01\x02\x02"
    for data in (coefficients, long_runs, b"", b"\x05"):
        assert rle.rle_encode(data) == _loop_rle(data)
        assert rle.rle_decode(rle.rle_encode(data)) == data
    assert rle.rle_encode(bytes(300)) == b"\xff\x00\x2d\x00"


def test_band_planes_round_trip_extreme_levels() -> None:
    levels = np.array([[0, -1, 1, -32768, 32767] * 12 + [5, -5, 0, 0]] * 3, dtype=np.int64)
    for width in (2, 4):
        packed = layout.pack(levels, coefficient_bytes=width, band_planes=True)
        back = layout.unpack(packed, n_blocks=3, block=8, coefficient_bytes=width, band_planes=True)
        np.testing.assert_array_equal(back, levels)


# --- errors: clear, and never a silent wrong image ---------------------------------------------------------
@pytest.fixture(scope="module")
def good_stream(pydicom_pixels: Pixels) -> bytes:
    return codec.encode(pydicom_pixels("MR_small"), 30)


def test_wrong_magic(good_stream: bytes) -> None:
    with pytest.raises(MMPCError, match=r"wrong magic b'PNG\\r'"):
        codec.decode(b"PNG\r" + good_stream[4:])


def test_truncated_header(good_stream: bytes) -> None:
    with pytest.raises(MMPCError, match="truncated MMPC header"):
        codec.decode(good_stream[:10])


def test_truncated_payload(good_stream: bytes) -> None:
    with pytest.raises(MMPCError, match="truncated MMPC payload: .* announces 3025 bytes, only 1000 follow"):
        codec.decode(good_stream[:V1_HEADER_SIZE + 1000])


def test_corrupt_payload(good_stream: bytes) -> None:
    corrupt = bytearray(good_stream)
    corrupt[V1_HEADER_SIZE + 2:V1_HEADER_SIZE + 40] = bytes(38)
    with pytest.raises(MMPCError, match="corrupt MMPC payload: zlib"):
        codec.decode(bytes(corrupt))


def test_length_mismatch(good_stream: bytes) -> None:
    lying = good_stream[:5] + struct.pack(">HH", 64, 72) + good_stream[9:]  # header says 64x72, data is 64x64
    with pytest.raises(MMPCError, match="payload length mismatch.*64x72 image needs 9216"):
        codec.decode(lying)


def test_unsupported_versions_and_depths(good_stream: bytes, pydicom_pixels: Pixels) -> None:
    with pytest.raises(MMPCError, match="unsupported MMPC version 3"):
        codec.decode(good_stream[:4] + b"\x03" + good_stream[5:])
    with pytest.raises(MMPCError, match="unsupported MMPC bit depth 32"):
        codec.decode(good_stream[:9] + b"\x20" + good_stream[10:])
    with pytest.raises(MMPCError, match=r"unsupported bit depth: .* got uint32 \(32 bits\)"):
        codec.encode(np.zeros((8, 8), dtype=np.uint32), 10)
    with pytest.raises(MMPCError, match="do not fit 12-bit unsigned"):
        codec.encode(pydicom_pixels("MR_small").astype(np.uint16) + 4000, 10, bits_stored=12)


def test_reserved_flags_are_rejected(pydicom_pixels: Pixels) -> None:
    stream = bytearray(codec.encode(pydicom_pixels("MR_small"), 30, version=2))
    stream[18] |= 0x80
    with pytest.raises(MMPCError, match="reserved bits"):
        codec.decode(bytes(stream))


@pytest.mark.parametrize("quality", [0, -3, 70000, 2.5, "30"])
def test_quality_must_be_a_representable_step(quality: object) -> None:
    with pytest.raises((ValueError, TypeError), match="quality must be"):
        codec.encode(np.zeros((8, 8), dtype=np.uint8), quality)  # type: ignore[arg-type]
