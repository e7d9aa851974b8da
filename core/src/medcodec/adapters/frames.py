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
