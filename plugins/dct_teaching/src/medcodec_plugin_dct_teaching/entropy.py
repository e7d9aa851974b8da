"""The lossless back end: an optional byte RLE (the seed's) followed by a general-purpose compressor.

* ``zlib`` (DEFLATE, level 6): the seed's choice; LZ77 + static/dynamic Huffman codes.
* ``lzma`` (raw LZMA2, no container): LZ77 + an *adaptive binary range coder with context models*, the kind
  of entropy coder the seed's "future work" asks for, available in the standard library. The raw format has
  no header, so decoder and encoder must agree on the filter below; it is part of the MMPC v2 definition.
"""

from __future__ import annotations

import lzma
import zlib
from enum import IntEnum

from medcodec_plugin_dct_teaching.rle import rle_encode

ZLIB_LEVEL = 6
"""The seed's level (also zlib's default)."""

LZMA_FILTERS = ({"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 22},)
"""Raw LZMA2, strongest preset, 4 MiB dictionary: larger than any 16-bit frame MMPC is used for, and keeps
the encoder's memory near 50 MiB instead of preset 9's 674 MiB."""


class EntropyCoder(IntEnum):
    """Value of the ``entropy coder`` byte in an MMPC v2 header (v1 is always zlib)."""

    ZLIB = 0
    LZMA = 1


def compress(data: bytes, *, coder: EntropyCoder, use_rle: bool) -> bytes:
    """RLE (optional) then the chosen compressor."""
    staged = rle_encode(data) if use_rle else data
    if coder is EntropyCoder.ZLIB:
        return zlib.compress(staged, level=ZLIB_LEVEL)
    return lzma.compress(staged, format=lzma.FORMAT_RAW, filters=list(LZMA_FILTERS))


def decompress(payload: bytes, *, coder: EntropyCoder, max_length: int) -> bytes:
    """Undo the compressor only (the caller undoes the RLE, because v1 may need the raw fallback).

    At most ``max_length + 1`` bytes are produced, so a corrupt stream cannot exhaust memory; a result longer
    than ``max_length`` tells the caller the payload does not match its header. Raises ``ValueError`` naming
    the problem when the payload is corrupt or cut short.
    """
    decompressor: zlib._Decompress | lzma.LZMADecompressor
    if coder is EntropyCoder.ZLIB:
        decompressor = zlib.decompressobj()
    else:
        decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=list(LZMA_FILTERS))
    name = coder.name.lower()
    try:
        # One byte more than allowed tells "exactly the limit" from "too long".
        data = decompressor.decompress(payload, max_length + 1)
    except (zlib.error, lzma.LZMAError) as exc:
        raise ValueError(f"{name} cannot decompress the payload ({exc})") from exc
    if len(data) > max_length:
        return data
    if not decompressor.eof:
        raise ValueError(f"truncated payload: the {name} stream ends before its end marker")
    return data
