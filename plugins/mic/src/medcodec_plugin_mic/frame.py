"""The self-describing frame that MIC Lossless stores in each encapsulated DICOM fragment.

Layout (little endian, 24 bytes, then the payload)::

    magic  b"MICf" | version u8 | pipeline u8 | flags u8 | bits_stored u8
    width u32 | height u32 | declared max u16 | reserved u16 (0) | payload length u32

The payload length is stored because DICOM pads odd-length fragments with a zero byte, which a bare
1-state FSE stream (found by its end mark in the last byte) cannot tolerate.

``pipeline`` is 1-4 for the reference streams "huff", "fse1", "fse2", "fse4", or 0 for raw
little-endian uint16 samples (used when no entropy stage beats the raw size). ``flags`` bit 0 records
signed samples (stored as two's complement uint16, as the reference does); bit 1 records 8-bit
samples (one byte each in the DICOM frame).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medcodec_plugin_mic.codec import (
    KINDS,
    MicCodecError,
    as_uint16_image,
    declared_max,
    decode_stream,
    encode_stream,
)

MAGIC = b"MICf"
VERSION = 1
_HEADER = struct.Struct("<4sBBBBIIHHI")
HEADER_SIZE = _HEADER.size
PIPELINE_RAW = 0
_PIPELINES = {kind: code for code, kind in enumerate(KINDS, start=1)}
FLAG_SIGNED = 1
FLAG_8BIT = 2


@dataclass(frozen=True)
class FrameHeader:
    pipeline: int
    signed: bool
    eight_bit: bool
    bits_stored: int
    width: int
    height: int
    declared_max: int
    payload_length: int

    @property
    def kind(self) -> str:
        return "raw" if self.pipeline == PIPELINE_RAW else KINDS[self.pipeline - 1]


def parse_header(data: bytes) -> FrameHeader:
    if len(data) < HEADER_SIZE:
        raise MicCodecError(f"MIC frame: {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, pipeline, flags, bits_stored, width, height, max_value, _, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MicCodecError(f"MIC frame: bad magic {magic!r} (expected {MAGIC!r})")
    if version != VERSION:
        raise MicCodecError(f"MIC frame: version {version} is not supported (this plugin reads {VERSION})")
    if pipeline > len(KINDS):
        raise MicCodecError(f"MIC frame: unknown pipeline code {pipeline}")
    if length > len(data) - HEADER_SIZE:
        raise MicCodecError(
            f"MIC frame: header announces {length} payload bytes but only {len(data) - HEADER_SIZE} are present"
        )
    return FrameHeader(
        pipeline, bool(flags & FLAG_SIGNED), bool(flags & FLAG_8BIT), bits_stored, width, height, max_value, length
    )


def encode_frame(
    pixels: npt.ArrayLike, *, kind: str = "fse2", signed: bool = False, bits_stored: int = 16
) -> bytes:
    """Encode one frame: ``kind`` if it beats raw storage, else Huffman if that does, else raw samples.

    The entropy stages refuse only inputs with nothing to code (e.g. a single repeated word); raw
    storage is then the lossless answer, not an error.
    """
    image = as_uint16_image(pixels)
    height, width = image.shape
    max_value = declared_max(image)
    raw = image.astype("<u2").tobytes()
    best_code, best_payload = PIPELINE_RAW, raw
    for candidate in dict.fromkeys((kind, "huff")):
        try:
            payload = encode_stream(image, candidate, max_value)
        except MicCodecError:
            continue  # this stage cannot code the image: try the next one
        if len(payload) < len(raw):
            best_code, best_payload = _PIPELINES[candidate], payload
            break
    flags = (FLAG_SIGNED if signed else 0) | (FLAG_8BIT if bits_stored <= 8 else 0)
    header = _HEADER.pack(
        MAGIC, VERSION, best_code, flags, bits_stored, width, height, max_value, 0, len(best_payload)
    )
    return header + best_payload


def decode_frame(data: bytes, *, width: int | None = None, height: int | None = None) -> tuple[FrameHeader, npt.NDArray[np.uint16]]:
    """Decode one frame; ``width``/``height``, when given, must match the header."""
    header = parse_header(data)
    if (width is not None and header.width != width) or (height is not None and header.height != height):
        raise MicCodecError(
            f"MIC frame: header says {header.width}x{header.height}, the dataset says {width}x{height}"
        )
    payload = memoryview(data)[HEADER_SIZE : HEADER_SIZE + header.payload_length]
    if header.pipeline == PIPELINE_RAW:
        expected = 2 * header.width * header.height
        if len(payload) != expected:
            raise MicCodecError(f"MIC frame (raw): {len(payload)} payload bytes, expected {expected}")
        image = np.frombuffer(payload, dtype="<u2").astype(np.uint16).reshape(header.height, header.width)
    else:
        image = decode_stream(bytes(payload), header.width, header.height, header.kind)
    return header, image
