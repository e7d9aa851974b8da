"""The reference's own test vectors: pixel-exact decoding, identical word streams and FSE bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from medcodec_plugin_mic import decode_stream, delta_rle_words, encode_stream

NAMES = ("MR", "CT", "CT2", "MR1", "MR4", "MR-MONO2-16-head")
KINDS = ("huff", "fse1", "fse2", "fse4")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", KINDS)
def test_reference_stream_decodes_pixel_exactly(golden_dir: Path, golden_images: dict, name: str, kind: str) -> None:
    expected = golden_images[name]
    data = (golden_dir / f"{name}.{kind}").read_bytes()
    decoded = decode_stream(data, expected.shape[1], expected.shape[0], kind)
    assert decoded.dtype == np.uint16 and decoded.shape == expected.shape
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("name", NAMES)
def test_word_stream_matches_reference(golden_dir: Path, golden_images: dict, name: str) -> None:
    image = golden_images[name]
    ours = delta_rle_words(image, max_value=int(image.max()))
    reference = np.frombuffer((golden_dir / f"{name}.rle16").read_bytes(), "<u2")
    np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ("fse1", "fse2", "fse4"))
def test_fse_output_is_byte_identical(golden_dir: Path, golden_images: dict, name: str, kind: str) -> None:
    image = golden_images[name]
    assert encode_stream(image, kind, max_value=int(image.max())) == (golden_dir / f"{name}.{kind}").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_huffman_size_matches_reference(golden_dir: Path, golden_images: dict, name: str) -> None:
    # Table order among equal frequencies follows Go's unstable sort in the reference, so the bytes
    # may differ; the code lengths, and therefore the size, must not.
    image = golden_images[name]
    ours = encode_stream(image, "huff", max_value=int(image.max()))
    assert len(ours) == len((golden_dir / f"{name}.huff").read_bytes())
    np.testing.assert_array_equal(decode_stream(ours, image.shape[1], image.shape[0], "huff"), image)


@pytest.mark.parametrize(("name", "ratio"), [("MR", 2.349), ("CT", 2.189)])
def test_huffman_ratio_matches_published_figure(golden_images: dict, name: str, ratio: float) -> None:
    image = golden_images[name]
    ours = encode_stream(image, "huff", max_value=int(image.max()))
    assert round(image.nbytes / len(ours), 3) == ratio


@pytest.mark.parametrize("name", ("MR", "CT2"))
@pytest.mark.parametrize("kind", KINDS)
def test_entropy_stage_alone_round_trips_the_reference_words(golden_dir: Path, name: str, kind: str) -> None:
    """The entropy decoders on their own: reference stream -> the reference's word stream, and back."""
    import medcodec_plugin_mic._mic as native

    words = np.frombuffer((golden_dir / f"{name}.rle16").read_bytes(), "<u2").astype(np.uint16)
    decoded = native.decode_words((golden_dir / f"{name}.{kind}").read_bytes(), kind, 4 * words.size)
    np.testing.assert_array_equal(decoded[: words.size], words)  # 1-state FSE may append junk words
    again = native.decode_words(native.encode_words(words, kind), kind, 4 * words.size)
    np.testing.assert_array_equal(again[: words.size], words)
