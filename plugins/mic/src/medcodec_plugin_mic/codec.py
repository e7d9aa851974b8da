"""The MIC codec as the reference defines its streams: pixels <-> bytes, no container, no pydicom.

Four stream kinds, exactly the reference's: ``"huff"`` (Delta+RLE+canonical Huffman), ``"fse1"``,
``"fse2"`` and ``"fse4"`` (Delta+RLE+16-bit FSE with 1, 2 or 4 interleaved states; ``fse2`` is the
reference's default single-frame output). Width and height are not stored in these streams.

Workarounds for the reference's bugs, all of which keep the streams decodable by the reference:

* the declared max value is at least 8 (below that the reference's RLE MidCount is <= 3 and it
  panics or mis-decodes), so images with max 0-7, constant and binary images round-trip;
* where the reference's FSE encoder panics or refuses (too many distinct symbols for its table log,
  all-unique symbols, no gain), the encoder raises the table log or skips the refusal and writes a
  valid FSE stream instead of failing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from medcodec_plugin_mic import _mic

KINDS = ("huff", "fse1", "fse2", "fse4")
MIN_DECLARED_MAX = 8
"""Smallest max value written into a stream (see the module docstring)."""


class MicCodecError(ValueError):
    """A MIC stream could not be encoded or decoded; the message names the codec and the problem."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise MicCodecError(f"MIC: unknown stream kind {kind!r}; expected one of {', '.join(KINDS)}")


def as_uint16_image(pixels: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    """2-D samples -> contiguous uint16; signed data is wrapped to two's complement, as the reference does."""
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise MicCodecError(f"MIC: expected a 2-D single-channel image, got shape {array.shape}")
    if array.dtype.kind not in "ui" or array.dtype.itemsize > 2:
        raise MicCodecError(f"MIC: samples must be 8- or 16-bit integers, got dtype {array.dtype}")
    if array.dtype.kind == "i":
        array = array.view(np.uint8 if array.dtype.itemsize == 1 else np.uint16)
    return np.ascontiguousarray(array, dtype=np.uint16)


def declared_max(image: npt.NDArray[np.uint16], max_value: int | None = None) -> int:
    """The max value to write: the image maximum (or the caller's), raised to at least 8."""
    actual = int(image.max()) if image.size else 0
    if max_value is None:
        return max(actual, MIN_DECLARED_MAX)
    if not 0 <= max_value <= 0xFFFF:
        raise MicCodecError(f"MIC: max_value {max_value} is outside 0..65535")
    if max_value < actual:
        raise MicCodecError(f"MIC: max_value {max_value} is below the image maximum {actual}")
    return max(max_value, MIN_DECLARED_MAX)


def encode_stream(pixels: npt.ArrayLike, kind: str = "fse2", max_value: int | None = None) -> bytes:
    """Encode a 2-D image (height, width) into one reference stream of ``kind``."""
    _check_kind(kind)
    image = as_uint16_image(pixels)
    height, width = image.shape
    if width == 0 or height == 0:
        raise MicCodecError(f"MIC: cannot encode an empty {width}x{height} image")
    try:
        return bytes(_mic.encode_image(image.ravel(), width, height, declared_max(image, max_value), kind))
    except _mic.MicStreamError as exc:
        raise MicCodecError(f"MIC ({kind}): {exc}") from exc


def decode_stream(data: bytes, width: int, height: int, kind: str) -> npt.NDArray[np.uint16]:
    """Decode one reference stream into a (height, width) uint16 image.

    The FSE kinds accept 1-, 2- and 4-state streams alike (detected by magic, like the reference's
    single-frame decoder, which falls back to 1-state streams).
    """
    _check_kind(kind)
    if width <= 0 or height <= 0:
        raise MicCodecError(f"MIC ({kind}): image size {width}x{height} is invalid")
    try:
        flat = _mic.decode_image(bytes(data), int(width), int(height), kind)
    except _mic.MicStreamError as exc:
        raise MicCodecError(f"MIC ({kind}): {exc}") from exc
    return flat.reshape(height, width)


def delta_rle_words(pixels: npt.ArrayLike, max_value: int | None = None) -> npt.NDArray[np.uint16]:
    """The Delta+RLE word stream the entropy stages code (used by tests and the benchmark)."""
    image = as_uint16_image(pixels)
    height, width = image.shape
    try:
        return _mic.delta_rle_words(image.ravel(), width, height, declared_max(image, max_value))
    except _mic.MicStreamError as exc:
        raise MicCodecError(f"MIC: {exc}") from exc
