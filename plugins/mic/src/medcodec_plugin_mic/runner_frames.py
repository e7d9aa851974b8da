"""What both MIC adapters read from a pydicom runner: the frame index and the one-sample frame as an array."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def frame_index(runner: object) -> int | None:
    index = getattr(runner, "index", None)
    return index if isinstance(index, int) else None


def monochrome_image(src: bytes, runner: Any, codec_label: str,
                     fail: Callable[[str], Exception]) -> tuple[np.ndarray, int]:
    """(rows x columns array, BitsStored) of a one-sample frame; ``fail(message)`` builds the error raised."""
    if runner.samples_per_pixel != 1:
        raise fail(
            f"{codec_label} codes one sample per pixel; SamplesPerPixel={runner.samples_per_pixel} "
            "(colour) is not supported: convert to MONOCHROME or choose another codec"
        )
    bits_stored = int(runner.bits_stored)
    if not 1 <= bits_stored <= 16:
        raise fail(f"BitsStored={bits_stored} is outside the 1-16 bits {codec_label} supports")
    dtype = np.dtype(np.uint8) if bits_stored <= 8 else np.dtype("<u2")
    rows, columns = int(runner.rows), int(runner.columns)
    expected = rows * columns * dtype.itemsize
    if len(src) != expected:
        raise fail(f"frame holds {len(src)} bytes, expected {expected} for {rows}x{columns} samples")
    return np.frombuffer(src, dtype=dtype).reshape(rows, columns), bits_stored
