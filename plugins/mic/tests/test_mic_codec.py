"""Codec-level tests: the reference's edge cases, the compatible workarounds, frames and errors."""

from __future__ import annotations

import numpy as np
import pytest
from medcodec_plugin_mic import KINDS, MicCodecError, decode_stream, delta_rle_words, encode_stream, frame


def _round_trip(image: np.ndarray, kind: str) -> None:
    data = encode_stream(image, kind)
    decoded = decode_stream(data, image.shape[1], image.shape[0], kind)
    np.testing.assert_array_equal(decoded, image.astype(np.uint16))


RNG = np.random.default_rng(11)
EDGE_CASES = {
    # The reference panics or silently mis-decodes all of these (mic-format.md, section 2).
    **{f"max{m}": RNG.integers(0, m + 1, (17, 23)).astype(np.uint16) for m in range(8)},
    "constant-0": np.zeros((32, 32), np.uint16),
    "constant-4095": np.full((31, 33), 4095, np.uint16),
    "1x1-value5": np.array([[5]], np.uint16),
    "1x1-value65535": np.array([[65535]], np.uint16),
    "2x2-1..4": np.array([[1, 2], [3, 4]], np.uint16),
    "1xN-ramp": (np.arange(300, dtype=np.uint16) * 200).reshape(1, 300),
    "Nx1-ramp": (np.arange(300, dtype=np.uint16) * 200).reshape(300, 1),
    "noise12-64x64": RNG.integers(0, 4096, (64, 64)).astype(np.uint16),
    "noise16-64x64": RNG.integers(0, 65536, (64, 64)).astype(np.uint16),
    "noise16-256x256": RNG.integers(0, 65536, (256, 256)).astype(np.uint16),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("label", sorted(EDGE_CASES))
def test_reference_edge_cases_round_trip(label: str, kind: str) -> None:
    _round_trip(EDGE_CASES[label], kind)


def test_low_max_images_declare_at_least_8() -> None:
    words = delta_rle_words(np.zeros((4, 4), np.uint16))
    assert words[0] == 15 and words[2] == 8  # delimiter for max 8, then the declared max itself


def test_signed_samples_wrap_like_the_reference() -> None:
    image = np.array([[-1000, 0, 1000], [-32768, 32767, -1]], np.int16)
    data = encode_stream(image, "fse2")
    np.testing.assert_array_equal(decode_stream(data, 3, 2, "fse2").view(np.int16), image)


def test_explicit_max_value_below_image_max_is_refused() -> None:
    with pytest.raises(MicCodecError, match="max_value 100 is below the image maximum 200"):
        encode_stream(np.full((2, 2), 200, np.uint16), "huff", max_value=100)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(MicCodecError, match="unknown stream kind 'zstd'"):
        encode_stream(np.zeros((2, 2), np.uint16), "zstd")
    with pytest.raises(MicCodecError, match="unknown stream kind"):
        decode_stream(b"\x00" * 16, 2, 2, "rans")


def test_colour_and_wide_samples_are_refused() -> None:
    with pytest.raises(MicCodecError, match="2-D single-channel"):
        encode_stream(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(MicCodecError, match="8- or 16-bit integers"):
        encode_stream(np.zeros((4, 4), np.uint32))


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_streams_raise_a_mic_error(kind: str) -> None:
    image = (np.arange(64 * 64, dtype=np.uint32) * 2654435761 % 3000).astype(np.uint16).reshape(64, 64)
    data = encode_stream(image, kind)
    for cut in (0, 1, 5, len(data) // 3, len(data) // 2):
        with pytest.raises(MicCodecError, match=rf"MIC \({kind}\)"):
            decode_stream(data[:cut], 64, 64, kind)


def test_stream_too_short_for_the_given_size_raises() -> None:
    data = encode_stream(np.arange(100, dtype=np.uint16).reshape(10, 10) * 7, "huff")
    with pytest.raises(MicCodecError, match="ended before the image was complete|claims"):
        decode_stream(data, 100, 100, "huff")


def test_eight_state_streams_are_refused_clearly() -> None:
    with pytest.raises(MicCodecError, match="8-state FSE"):
        decode_stream(b"\xff\x84" + b"\x00" * 20, 4, 4, "fse2")


# --- frame header -------------------------------------------------------------------------------------

def test_frame_falls_back_to_raw_when_nothing_compresses() -> None:
    noise = np.random.default_rng(3).integers(0, 65536, (16, 16)).astype(np.uint16)
    data = frame.encode_frame(noise)
    header, decoded = frame.decode_frame(data)
    assert header.kind == "raw"
    np.testing.assert_array_equal(decoded, noise)


def test_frame_tolerates_dicom_fragment_padding() -> None:
    image = np.arange(15, dtype=np.uint16).reshape(3, 5) * 100
    for kind in KINDS:
        data = frame.encode_frame(image, kind=kind)
        _, decoded = frame.decode_frame(data + b"\x00", width=5, height=3)
        np.testing.assert_array_equal(decoded, image)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:10], "shorter than the 24-byte header"),
        (lambda d: b"JUNK" + d[4:], "bad magic"),
        (lambda d: d[:4] + b"\x09" + d[5:], "version 9 is not supported"),
        (lambda d: d[:5] + b"\x07" + d[6:], "unknown pipeline code 7"),
        (lambda d: d[:-3], "announces"),
    ],
)
def test_bad_frames_raise_clear_errors(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = frame.encode_frame(np.arange(64, dtype=np.uint16).reshape(8, 8) * 50)
    with pytest.raises(MicCodecError, match=message):
        frame.decode_frame(mutate(data))


def test_frame_size_mismatch_is_reported() -> None:
    data = frame.encode_frame(np.zeros((8, 8), np.uint16))
    with pytest.raises(MicCodecError, match="header says 8x8, the dataset says 9x8"):
        frame.decode_frame(data, width=9, height=8)
