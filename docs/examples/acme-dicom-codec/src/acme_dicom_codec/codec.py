"""The codec itself: frame bytes <-> compressed bytes. No pydicom import.

Stream: b"ACME" | version u8 | bytes per sample u8 | zlib(zig-zag(residual)).
The residual of a sample is its difference from the sample to its left (the first column: from the sample
above), modulo 2**(8 * bytes per sample); both directions are cumulative sums, so encode and decode are
vectorised with numpy.
"""

from __future__ import annotations

import struct
import zlib

import medcodec
import numpy as np

MAGIC = b"ACME"
VERSION = 1
NAME = "acme_delta_deflate"
UID = "2.25.115535263230877156563798271696638850145.1"


def _container(bits_stored: int) -> np.dtype:
    return np.dtype(np.uint8) if bits_stored <= 8 else np.dtype("<u2")


def encode(src: bytes, rows: int, columns: int, samples: int, bits_stored: int) -> bytes:
    dtype = _container(bits_stored)
    planes = np.frombuffer(src, dtype=dtype).reshape(rows, columns, samples).transpose(2, 0, 1)
    residual = np.diff(planes, axis=2, prepend=0).astype(dtype)  # wraps modulo 2**bits
    residual[:, :, 0] = np.diff(planes[:, :, 0], axis=1, prepend=0).astype(dtype)
    half = dtype.type(1 << (8 * dtype.itemsize - 1))
    zigzag = np.where(residual < half, residual * dtype.type(2), ~residual * dtype.type(2) + dtype.type(1))
    return MAGIC + struct.pack("<BB", VERSION, dtype.itemsize) + zlib.compress(zigzag.astype(dtype).tobytes(), 6)


def decode(src: bytes, rows: int, columns: int, samples: int, bits_stored: int) -> bytes:
    if len(src) < 6 or src[:4] != MAGIC:
        raise medcodec.DecodeError(NAME, UID, "not an ACME stream (bad magic)")
    version, itemsize = struct.unpack("<BB", src[4:6])
    dtype = _container(bits_stored)
    if version != VERSION or itemsize != dtype.itemsize:
        raise medcodec.DecodeError(NAME, UID, f"unsupported stream version {version} / sample size {itemsize}")
    try:
        zigzag = np.frombuffer(zlib.decompress(src[6:]), dtype=dtype)
    except zlib.error as exc:
        raise medcodec.DecodeError(NAME, UID, f"corrupt deflate data: {exc}") from exc
    if zigzag.size != rows * columns * samples:
        raise medcodec.DecodeError(NAME, UID, f"{zigzag.size} samples decoded, {rows * columns * samples} expected")
    one = dtype.type(1)
    residual = np.where(zigzag & one, ~(zigzag >> one), zigzag >> one).astype(dtype).reshape(samples, rows, columns)
    residual[:, :, 0] = np.cumsum(residual[:, :, 0], axis=1, dtype=dtype)
    planes = np.cumsum(residual, axis=2, dtype=dtype)
    return planes.transpose(1, 2, 0).tobytes()
