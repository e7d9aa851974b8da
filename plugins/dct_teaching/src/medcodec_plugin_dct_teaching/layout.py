"""How quantised coefficients are laid out as bytes before the entropy stage.

Seed layout (MMPC v1): blocks in raster order, each block's 64 levels row-major, each level a little-endian
int16. Version 2 keeps that as its default and adds three independent, flag-selected steps that the
"improved" profile switches on (each one is measured separately by ``medcodec mmpc rd``):

* **zig-zag scan** — inside a block, visit coefficients by increasing frequency (JPEG's order), so the
  trailing high-frequency zeros come last and together;
* **DC prediction** — store each block's DC level as the difference from the previous block's (raster
  order): neighbouring blocks have similar means, so the differences are small numbers;
* **band planes** — write position 0 of every block, then position 1 of every block, … (one "band" per
  frequency), fold signs (0, -1, 1, -2, … → 0, 1, 2, 3, …) and split the result into byte planes (all low
  bytes, then all high bytes). High bands are almost all zero and the high-byte plane is almost all zero, so
  the entropy coder sees long, uniform stretches instead of interleaved ``00 00 ff ff`` patterns.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@cache
def zigzag_order(block: int = 8) -> npt.NDArray[np.intp]:
    """Row-major indices of a ``block × block`` block in JPEG zig-zag order (anti-diagonals, alternating)."""
    positions = [(row, col) for row in range(block) for col in range(block)]
    # Even anti-diagonals run bottom-left → top-right (row decreasing), odd ones top-right → bottom-left.
    positions.sort(key=lambda rc: (rc[0] + rc[1], rc[1] if (rc[0] + rc[1]) % 2 == 0 else rc[0]))
    order = np.array([row * block + col for row, col in positions], dtype=np.intp)
    order.setflags(write=False)
    return order


def to_scan_order(levels: IntArray, *, zigzag: bool, dc_prediction: bool) -> IntArray:
    """Reorder ``(n_blocks, block*block)`` row-major levels for the stream; optionally predict the DC."""
    block = math.isqrt(levels.shape[1])
    scanned = levels[:, zigzag_order(block)] if zigzag else levels.copy()
    if dc_prediction and len(scanned):
        # Position 0 is the DC in both orders; keep the first, replace the rest by their raster difference.
        scanned[1:, 0] = np.diff(scanned[:, 0])
    return scanned


def from_scan_order(scanned: IntArray, *, zigzag: bool, dc_prediction: bool) -> IntArray:
    """Inverse of :func:`to_scan_order`."""
    block = math.isqrt(scanned.shape[1])
    levels = scanned.copy()
    if dc_prediction and len(levels):
        levels[:, 0] = np.cumsum(levels[:, 0])
    if zigzag:
        row_major = np.empty_like(levels)
        row_major[:, zigzag_order(block)] = levels
        levels = row_major
    return levels


def fits(levels: IntArray, coefficient_bytes: int) -> bool:
    """True if every level fits a signed integer of ``coefficient_bytes`` bytes."""
    limit = 1 << (8 * coefficient_bytes - 1)
    return levels.size == 0 or bool(-limit <= levels.min() and levels.max() < limit)


def pack(levels: IntArray, *, coefficient_bytes: int, band_planes: bool) -> bytes:
    """Serialise levels (already in scan order) as little-endian signed integers, or as band byte planes."""
    signed_type = np.dtype(f"<i{coefficient_bytes}")
    if not band_planes:
        return levels.astype(signed_type).tobytes()
    bits = 8 * coefficient_bytes
    folded = ((levels << 1) ^ (levels >> (bits - 1))) & ((1 << bits) - 1)  # sign folding, in int64
    bands = np.ascontiguousarray(folded.T).astype(f"<u{coefficient_bytes}")
    planes = bands.view(np.uint8).reshape(-1, coefficient_bytes).T  # plane k = byte k of every value
    return np.ascontiguousarray(planes).tobytes()


def unpack(data: bytes, *, n_blocks: int, block: int, coefficient_bytes: int, band_planes: bool) -> IntArray:
    """Inverse of :func:`pack`; the caller has checked ``len(data)``."""
    per_block = block * block
    if not band_planes:
        flat = np.frombuffer(data, dtype=f"<i{coefficient_bytes}").astype(np.int64)
        return flat.reshape(n_blocks, per_block)
    planes = np.frombuffer(data, dtype=np.uint8).reshape(coefficient_bytes, -1)
    folded = np.ascontiguousarray(planes.T).view(f"<u{coefficient_bytes}").reshape(-1).astype(np.int64)
    levels = (folded >> 1) ^ -(folded & 1)  # unfold signs
    return np.ascontiguousarray(levels.reshape(per_block, n_blocks).T)
