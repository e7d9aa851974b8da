"""pydicom 3 plugin module for the ``DCTTeaching`` transfer syntax: one MMPC stream per frame.

This is exactly pydicom's plugin contract (``is_available``, ``*_DEPENDENCIES``, ``decode_frame``,
``encode_frame``); medcodec wires it into pydicom's coder tables under the label ``medcodec.dct_teaching``.
Its job is only the translation between pydicom's frame bytes and the pure codec's arrays; the codec is
imported lazily so that wiring the plugin costs nothing until a frame is actually coded.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from medcodec import DecodeError, EncodeError

from medcodec_plugin_dct_teaching.plugin import CODEC_NAME, DEFAULT_QUALITY, DCTTeaching

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

DECODER_DEPENDENCIES = {DCTTeaching: ("numpy",)}
ENCODER_DEPENDENCIES = {DCTTeaching: ("numpy",)}


def is_available(uid: str) -> bool:
    return uid == DCTTeaching and find_spec("numpy") is not None


def _frame_format(runner: Any) -> tuple[int, int, bool]:
    return int(runner.bits_allocated), int(runner.bits_stored), int(runner.pixel_representation) == 1


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    """Encode one frame (little endian, 1 byte/sample if BitsStored <= 8 else 2) as one MMPC stream."""
    from medcodec.adapters.frames import samples

    from medcodec_plugin_dct_teaching import codec

    if runner.samples_per_pixel != 1:
        raise EncodeError(CODEC_NAME, DCTTeaching, f"MMPC codes one sample per pixel, the image has "
                          f"{runner.samples_per_pixel}; convert colour images to greyscale first")
    bits_allocated, bits_stored, signed = _frame_format(runner)
    profile = str(runner.get_option("profile", "seed"))
    if profile not in codec.PROFILES:
        raise EncodeError(CODEC_NAME, DCTTeaching,
                          f"unknown profile {profile!r} (choose from {', '.join(codec.PROFILES)})")
    image = samples(src, bits_stored, signed).reshape(runner.rows, runner.columns)
    try:
        return codec.encode(image, runner.get_option("quality", DEFAULT_QUALITY),
                            bits_allocated=bits_allocated, bits_stored=bits_stored, signed=signed,
                            pipeline=codec.PROFILES[profile])
    except (ValueError, TypeError) as exc:  # MMPCError, and quality values that are no step
        raise EncodeError(CODEC_NAME, DCTTeaching, str(exc)) from exc


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    """Decode one MMPC stream into a native frame (BitsAllocated container, little endian)."""
    import numpy as np

    from medcodec_plugin_dct_teaching import codec
    from medcodec_plugin_dct_teaching.bitstream import parse_header, sample_range

    try:
        header = parse_header(src)
        end = header.size + header.payload_length
        # DICOM pads every fragment to an even length with one NUL byte; anything else after is foreign.
        if len(src) > end and (len(src) - end > 1 or src[end] != 0):
            raise codec.MMPCError(f"{len(src) - end} unexpected bytes after the MMPC stream (one frame holds "
                                  "exactly one stream)")
        decoded = codec.decode(bytes(src[:end]))
    except ValueError as exc:
        raise DecodeError(CODEC_NAME, DCTTeaching, str(exc)) from exc
    header = decoded.header
    if (header.height, header.width) != (runner.rows, runner.columns):
        raise DecodeError(CODEC_NAME, DCTTeaching, f"length mismatch: the MMPC stream holds a "
                          f"{header.width}x{header.height} image, the dataset declares "
                          f"{runner.columns}x{runner.rows}")
    bits_allocated, bits_stored, signed = _frame_format(runner)
    # The stream's clip range may be wider than the dataset's (v1 clips to BitsAllocated): clip to what
    # the dataset can hold, which only ever moves a value towards the original.
    low, high = sample_range(bits_stored, signed)
    pixels = np.clip(decoded.pixels.astype(np.int64), low, high)
    container = f"<{'i' if signed else 'u'}{bits_allocated // 8}"
    return pixels.astype(container).tobytes()
