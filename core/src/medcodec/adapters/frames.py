"""Helpers shared by adapters: turn a frame's bytes into sample values the way DICOM defines them."""

from __future__ import annotations

from typing import Any

import numpy as np


def samples(buffer: bytes | bytearray, bits_stored: int, signed: bool) -> np.ndarray:
    """Frame bytes (1 byte/sample for BitsStored <= 8, else 2, little endian) -> int64 sample values.

    Only the low ``bits_stored`` bits count; signed values are sign-extended from bit ``bits_stored - 1``.
    """
    dtype = np.uint8 if bits_stored <= 8 else "<u2"
    raw = np.frombuffer(buffer, dtype=dtype).astype(np.int64)
    raw &= (1 << bits_stored) - 1
    if signed:
        raw = np.where(raw >= 1 << (bits_stored - 1), raw - (1 << bits_stored), raw)
    return raw


def runner_kind(runner: Any) -> tuple[int, bool]:
    return int(runner.bits_stored), int(runner.pixel_representation) == 1


def frame_shape(arr: np.ndarray, runner: Any) -> np.ndarray:
    """A flat frame as (rows, columns) or (rows, columns, samples), whatever its PlanarConfiguration."""
    rows, columns, samples_per_pixel = int(runner.rows), int(runner.columns), int(runner.samples_per_pixel)
    if samples_per_pixel == 1:
        return arr.reshape(rows, columns)
    if int(getattr(runner, "planar_configuration", 0) or 0):
        return np.ascontiguousarray(arr.reshape(samples_per_pixel, rows, columns).transpose(1, 2, 0))
    return arr.reshape(rows, columns, samples_per_pixel)
