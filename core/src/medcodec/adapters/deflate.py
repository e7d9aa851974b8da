"""Deflated Image Frame Compression (1.2.840.10008.1.2.8.1, PS3.5 A.4.13 / 8.2.16).

Each frame is the native frame (BitsAllocated container, little endian) compressed with raw deflate
(RFC 1951, no zlib header). pydicom 3.0 knows the UID but has no coder for it.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from medcodec.errors import DecodeError

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

DeflatedImageFrameCompression = "1.2.840.10008.1.2.8.1"
DECODER_DEPENDENCIES = ENCODER_DEPENDENCIES = {DeflatedImageFrameCompression: ("zlib",)}
LEVEL = 6


def is_available(uid: str) -> bool:
    return uid == DeflatedImageFrameCompression


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    level = int(runner.get_option("deflate_level", LEVEL))
    if runner.bits_allocated == 16 and runner.bits_stored <= 8:
        # pydicom hands over 1 byte/sample when BitsStored <= 8; the native frame has 2.
        import numpy as np

        src = np.frombuffer(src, dtype=np.uint8).astype("<u2").tobytes()
    for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FIXED, zlib.Z_HUFFMAN_ONLY):
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        out = compressor.compress(src) + compressor.flush()
        # pydicom warns ("... matches the expected number for uncompressed data") when an encapsulated frame
        # happens to be exactly as long as the native one; another strategy gives another length.
        if len(out) + (len(out) & 1) != len(src):
            break
    return out


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    expected = runner.rows * runner.columns * runner.samples_per_pixel * runner.bits_allocated // 8
    try:
        inflater = zlib.decompressobj(-15)
        out = inflater.decompress(src, expected)
    except zlib.error as exc:
        raise DecodeError("deflated_image_frame", DeflatedImageFrameCompression, f"corrupt deflate stream: {exc}")
    if len(out) < expected:
        raise DecodeError("deflated_image_frame", DeflatedImageFrameCompression,
                          f"frame is truncated: {len(out)} of {expected} bytes")
    return out
