"""The packed-file container: header, raw fallback, checksum and optional AES-256-GCM, around the Rust coder.

Layout (little-endian; documented byte by byte in docs/codecs/huffman.md)::

    0   4  magic b"MCHF"
    4   1  format version (1)
    5   1  flags: bit 0 = encrypted; other bits must be 0
    -- plain file (flag clear) --
    6   1  method: 0 = stored (raw copy), 1 = Huffman
    7   8  original size in bytes (u64)
    15  4  CRC-32 (IEEE, as zlib.crc32) of the original bytes
    19  .. body: the original bytes (stored), or for Huffman: 128-byte code-length table,
           3 x u64 byte lengths of bitstreams 0-2, then the 4 bitstreams of the 4 segments
    -- encrypted file (flag set) --
    6   12 AES-GCM nonce (random per file)
    18  .. AES-256-GCM ciphertext of bytes 6.. of the plain layout, then the 16-byte tag;
           bytes 0..18 are authenticated as associated data

Huffman is chosen only when its body is strictly smaller than the original, so a packed file is never
larger than ``original + PLAIN_HEADER_SIZE`` (``+ ENCRYPTION_OVERHEAD`` when encrypted).
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass

from medcodec_plugin_huffman import _huffman
from medcodec_plugin_huffman.errors import (
    DamagedError,
    DecryptionError,
    HuffmanFormatError,
    KeyRequiredError,
    NotPackedError,
)

MAGIC = b"MCHF"
FORMAT_VERSION = 1
FLAG_ENCRYPTED = 0x01

_PREFIX = struct.Struct("<4sBB")  # magic, version, flags
_RECORD = struct.Struct("<BQI")  # method, original size, CRC-32
PLAIN_HEADER_SIZE = _PREFIX.size + _RECORD.size  # 19
NONCE_SIZE = 12
TAG_SIZE = 16
ENCRYPTION_OVERHEAD = NONCE_SIZE + TAG_SIZE  # 28, on top of the plain header
KEY_SIZE = 32  # AES-256
# AES-GCM encrypts at most 2**36 - 32 bytes under one nonce (NIST SP 800-38D).
MAX_ENCRYPTED_RECORD = 2**36 - 32


class Method(enum.IntEnum):
    STORED = 0
    HUFFMAN = 1


@dataclass(frozen=True)
class Header:
    """What the header of a packed blob says (the record fields are None while encrypted)."""

    version: int
    encrypted: bool
    method: Method | None
    original_size: int | None
    crc32: int | None


def crc32(data: bytes) -> int:
    """CRC-32 of ``data`` (the value ``zlib.crc32`` gives), computed in Rust without the GIL."""
    return int(_huffman.crc32(data))


def pack_bytes(data: bytes, *, key: bytes | None = None) -> bytes:
    """Pack ``data``: Huffman-coded when that is smaller, stored raw otherwise; encrypted if ``key``."""
    return pack(data, key=key)[0]


def unpack_bytes(blob: bytes, *, key: bytes | None = None) -> bytes:
    """Restore the original bytes; raises a :class:`HuffmanFormatError` subclass on any problem.

    The CRC-32 of the result is always checked; an encrypted blob is authenticated before decoding.
    """
    return unpack(blob, key=key)[0]


def pack(data: bytes, *, key: bytes | None = None) -> tuple[bytes, Method]:
    """:func:`pack_bytes`, also returning the method chosen (which an encrypted file hides)."""
    data = bytes(data)
    payload = _huffman.encode(data, len(data))
    method = Method.STORED if payload is None else Method.HUFFMAN
    record_header = _RECORD.pack(method, len(data), crc32(data))
    body = data if payload is None else payload
    if key is None:
        # One join: the output is built with a single copy of the (possibly large) body.
        return b"".join((_PREFIX.pack(MAGIC, FORMAT_VERSION, 0), record_header, body)), method
    _check_key(key)
    if len(record_header) + len(body) > MAX_ENCRYPTED_RECORD:
        raise HuffmanFormatError(
            f"{len(data)} bytes are too many for one AES-GCM message (limit {MAX_ENCRYPTED_RECORD} bytes); "
            "pack without --encrypt or split the data."
        )
    record = record_header + body
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_SIZE)
    associated = _PREFIX.pack(MAGIC, FORMAT_VERSION, FLAG_ENCRYPTED) + nonce
    return associated + AESGCM(key).encrypt(nonce, record, associated), method


def read_header(blob: bytes) -> Header:
    """Parse and check the header of a packed blob without decoding it."""
    prefix_size = _PREFIX.size
    if len(blob) < prefix_size or blob[:4] != MAGIC:
        raise NotPackedError(
            "not a medcodec Huffman file (it does not start with the 'MCHF' magic); "
            "was it produced by 'medcodec huffman pack'?"
        )
    _, version, flags = _PREFIX.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise HuffmanFormatError(
            f"format version {version} is not supported (this tool reads version {FORMAT_VERSION}); "
            "upgrade medcodec-plugin-huffman."
        )
    if flags & ~FLAG_ENCRYPTED:
        raise DamagedError(f"unknown flag bits 0x{flags:02x} in the header: the file is damaged.")
    if flags & FLAG_ENCRYPTED:
        if len(blob) < prefix_size + ENCRYPTION_OVERHEAD:
            raise DamagedError(f"the encrypted file is truncated ({len(blob)} bytes).")
        return Header(version, True, None, None, None)
    method, size, checksum = _parse_record(blob[prefix_size:])
    return Header(version, False, method, size, checksum)


def unpack(blob: bytes, *, key: bytes | None = None) -> tuple[bytes, Method]:
    """:func:`unpack_bytes`, also returning the method the file was packed with."""
    blob = bytes(blob)
    header = read_header(blob)
    # The record (method, size, CRC, body) is read in place from `source` starting at `start`, so the
    # potentially large body is never copied before decoding.
    source, start = blob, _PREFIX.size
    if header.encrypted:
        if key is None:
            raise KeyRequiredError("the file is encrypted: give the key file (--key KEYFILE).")
        source, start = _decrypt(blob, key), 0
    elif key is not None:
        raise KeyRequiredError(
            "a key was given but the file is not encrypted; nothing was decrypted (drop --key)."
        )
    method, size, expected_crc = _parse_record(source[start : start + _RECORD.size])
    body_start = start + _RECORD.size
    if method is Method.STORED:
        data = source[body_start:]
        if len(data) != size:
            raise DamagedError(f"the stored body has {len(data)} bytes but the header says {size}.")
    else:
        try:
            data = _huffman.decode(source, body_start, size)
        except ValueError as exc:
            raise DamagedError(f"{exc}.") from exc
    actual_crc = crc32(data)
    if actual_crc != expected_crc:
        raise DamagedError(
            f"checksum mismatch (CRC-32 0x{actual_crc:08x}, expected 0x{expected_crc:08x}): "
            "the file is damaged."
        )
    return data, method


def _parse_record(record: bytes) -> tuple[Method, int, int]:
    if len(record) < _RECORD.size:
        raise DamagedError(f"the header is truncated ({len(record)} of {_RECORD.size} record bytes).")
    method_value, size, checksum = _RECORD.unpack_from(record)
    try:
        method = Method(method_value)
    except ValueError:
        raise DamagedError(f"unknown coding method {method_value} in the header: the file is damaged.") from None
    return method, size, checksum


def _decrypt(blob: bytes, key: bytes) -> bytes:
    _check_key(key)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    associated_size = _PREFIX.size + NONCE_SIZE
    associated = blob[:associated_size]
    nonce = associated[_PREFIX.size :]
    try:
        return AESGCM(key).decrypt(nonce, blob[associated_size:], associated)
    except InvalidTag:
        raise DecryptionError(
            "decryption failed: wrong key, or the file was altered after packing."
        ) from None


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
        raise KeyRequiredError(f"an AES-256 key must be {KEY_SIZE} bytes (got {len(key)}).")
