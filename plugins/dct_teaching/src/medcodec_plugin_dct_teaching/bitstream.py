"""The MMPC container: header layouts for versions 1 and 2, and splitting a file into streams.

Version 1 (the seed's, 17 bytes, big-endian)::

    magic "MMPC" | version=1 (B) | width (H) | height (H) | bit depth (B) | block size (B)
    | quant step (H) | payload length (I)

Version 2 (21 bytes) is version 1's 17 bytes with ``version=2``, followed by four more bytes::

    bits stored (B) | flags (B) | coefficient bytes (B) | entropy coder (B)

``payload length`` always counts the bytes *after* the header. A ``.mmpc`` file holds one or more streams back
to back (one per slice of a volume); the seed's single-image files are the one-stream case.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntFlag

from medcodec_plugin_dct_teaching.entropy import EntropyCoder

MAGIC = b"MMPC"
_V1 = struct.Struct(">4sBHHBBHI")
_V2_EXTENSION = struct.Struct(">BBBB")
V1_HEADER_SIZE = _V1.size  # 17
V2_HEADER_SIZE = _V1.size + _V2_EXTENSION.size  # 21
SUPPORTED_VERSIONS = (1, 2)


class MMPCError(ValueError):
    """A stream is not valid MMPC, or an image cannot be encoded as MMPC. The message names the problem."""


class Flags(IntFlag):
    """Bits of the MMPC v2 ``flags`` byte; bits 5-7 are reserved and must be zero."""

    SIGNED = 0x01  #: samples are two's complement; reconstructions are clipped to the signed range
    ZIGZAG = 0x02  #: coefficients of a block are in zig-zag order instead of row-major
    RLE = 0x04  #: the byte RLE stage was applied before the entropy coder
    DEBLOCK = 0x08  #: the decoder must apply the deblocking filter (see deblock.py)
    DC_PREDICTION = 0x10  #: each DC level is stored as the difference from the previous block's
    BAND_PLANES = 0x20  #: band-major, sign-folded byte-plane layout (see layout.py)


KNOWN_FLAGS = Flags.SIGNED | Flags.ZIGZAG | Flags.RLE | Flags.DEBLOCK | Flags.DC_PREDICTION | Flags.BAND_PLANES


def sample_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """Closed range of a ``bits_stored``-bit sample: two's complement if ``signed``, else unsigned."""
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


@dataclass(frozen=True)
class Header:
    """Every header field of one MMPC stream. ``bits_stored``/``flags``/… take v1's implied values for v1."""

    version: int
    width: int
    height: int
    bit_depth: int
    block_size: int
    quant_step: int
    payload_length: int
    bits_stored: int
    flags: Flags = Flags.RLE
    coefficient_bytes: int = 2
    entropy_coder: EntropyCoder = EntropyCoder.ZLIB

    @property
    def size(self) -> int:
        """Length of this header in bytes."""
        return V1_HEADER_SIZE if self.version == 1 else V2_HEADER_SIZE

    @property
    def signed(self) -> bool:
        return bool(self.flags & Flags.SIGNED)

    @property
    def sample_range(self) -> tuple[int, int]:
        """Closed range the decoder clips to: v1 clips to ``[0, 2^bit_depth - 1]`` (the seed's rule)."""
        return sample_range(self.bits_stored, self.signed)

    def pack(self) -> bytes:
        """Serialise; v1 headers refuse v2-only features rather than dropping them silently."""
        base = _V1.pack(MAGIC, self.version, self.width, self.height, self.bit_depth, self.block_size,
                        self.quant_step, self.payload_length)
        if self.version == 1:
            if self.flags != Flags.RLE or self.coefficient_bytes != 2 or self.entropy_coder != EntropyCoder.ZLIB:
                raise MMPCError("MMPC version 1 has no room for flags, wide coefficients or another entropy coder")
            return base
        return base + _V2_EXTENSION.pack(self.bits_stored, int(self.flags), self.coefficient_bytes,
                                         int(self.entropy_coder))


def parse_header(data: bytes | memoryview, offset: int = 0) -> Header:
    """Read and validate the header that starts at ``offset``; raise :class:`MMPCError` naming the problem."""
    available = len(data) - offset
    if available < 4 or bytes(data[offset:offset + 4]) != MAGIC:
        found = bytes(data[offset:offset + 4])
        raise MMPCError(f"not an MMPC stream: wrong magic {found!r} at byte {offset} (expected {MAGIC!r})")
    if available < V1_HEADER_SIZE:
        raise MMPCError(f"truncated MMPC header at byte {offset}: {available} bytes, a header needs "
                        f"{V1_HEADER_SIZE}")
    _, version, width, height, bit_depth, block, step, payload_length = _V1.unpack_from(data, offset)
    if version not in SUPPORTED_VERSIONS:
        raise MMPCError(f"unsupported MMPC version {version} at byte {offset} (this decoder reads "
                        f"{', '.join(map(str, SUPPORTED_VERSIONS))})")
    if version == 1:
        header = Header(1, width, height, bit_depth, block, step, payload_length, bits_stored=bit_depth)
    else:
        if available < V2_HEADER_SIZE:
            raise MMPCError(f"truncated MMPC version 2 header at byte {offset}: {available} bytes, it needs "
                            f"{V2_HEADER_SIZE}")
        bits_stored, flags, coefficient_bytes, coder = _V2_EXTENSION.unpack_from(data, offset + V1_HEADER_SIZE)
        if flags & ~int(KNOWN_FLAGS):
            raise MMPCError(f"MMPC flags byte 0x{flags:02x} sets reserved bits (known: 0x{int(KNOWN_FLAGS):02x})")
        if coefficient_bytes not in (2, 4):
            raise MMPCError(f"MMPC coefficient width of {coefficient_bytes} bytes is not supported (2 or 4)")
        if coder not in iter(EntropyCoder):
            raise MMPCError(f"unknown MMPC entropy coder {coder} (0 = zlib, 1 = lzma)")
        if not 1 <= bits_stored <= bit_depth:
            raise MMPCError(f"MMPC bits stored {bits_stored} is outside 1..bit depth ({bit_depth})")
        header = Header(2, width, height, bit_depth, block, step, payload_length, bits_stored,
                        Flags(flags), coefficient_bytes, EntropyCoder(coder))
    if not 1 <= bit_depth <= 16:
        raise MMPCError(f"unsupported MMPC bit depth {bit_depth} (1 to 16 bits)")
    if width == 0 or height == 0:
        raise MMPCError(f"MMPC image size {width}x{height} is empty")
    if block == 0 or step == 0:
        raise MMPCError(f"MMPC block size ({block}) and quantisation step ({step}) must be at least 1")
    return header


def split_streams(data: bytes) -> Iterator[tuple[Header, bytes]]:
    """Yield ``(header, payload)`` for each stream of a file; raise :class:`MMPCError` on a short payload."""
    view = memoryview(data)
    offset = 0
    if not data:
        raise MMPCError("empty input: an MMPC file has at least one 17-byte header")
    while offset < len(data):
        header = parse_header(view, offset)
        start = offset + header.size
        end = start + header.payload_length
        if end > len(data):
            raise MMPCError(f"truncated MMPC payload: the header at byte {offset} announces "
                            f"{header.payload_length} bytes, only {len(data) - start} follow")
        yield header, bytes(view[start:end])
        offset = end
