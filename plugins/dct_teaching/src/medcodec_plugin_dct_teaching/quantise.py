"""Stage 2 of MMPC: uniform scalar quantisation, the only lossy step.

Every coefficient is divided by one step and rounded to the nearest integer (numpy's round-half-to-even, as
in the seed); the decoder multiplies back. The error each coefficient picks up is at most ``step / 2``; with an
orthonormal 8×8 DCT that bounds the pixel error by ``4 * step`` (+0.5 for the final rounding), see
:func:`max_pixel_error`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MAX_QUANT_STEP = 0xFFFF
"""The header stores the step in two bytes."""


def quality_to_step(quality: int) -> int:
    """Map the user's "quality" to the quantisation step: the seed's identity mapping.

    As in the seed, a *higher* quality number means a *coarser* step (smaller file, larger error). The seed
    silently turns anything below 1 into 1; we reject values it cannot represent instead of guessing.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality must be an integer from 1 to {MAX_QUANT_STEP}, got {quality!r}")
    if not 1 <= int(quality) <= MAX_QUANT_STEP:
        raise ValueError(f"quality must be from 1 to {MAX_QUANT_STEP} (it is the quantisation step), got {quality}")
    return int(quality)


def quantise(coefficients: npt.NDArray[np.float64], step: int) -> npt.NDArray[np.int64]:
    """``round(coefficient / step)`` as int64; the caller decides which integer width the stream can hold."""
    return np.round(coefficients / step).astype(np.int64)


def dequantise(levels: npt.NDArray[np.integer], step: int) -> npt.NDArray[np.float64]:
    """``level * step`` as float64, ready for the inverse DCT."""
    return levels.astype(np.float64) * step


def max_pixel_error(step: int, block: int = 8) -> float:
    """Worst-case absolute pixel error of quantise → dequantise → inverse DCT → round, before clipping.

    Each coefficient error is at most step/2; a pixel is a weighted sum of the block's coefficients with weights
    ``M[u, x] M[v, y]``, and ``sum_u |M[u, x]| <= sqrt(block)`` (Cauchy-Schwarz on a unit column), so the
    pixel error is at most ``step/2 * block``. Rounding to an integer adds 0.5.
    """
    return step / 2 * block + 0.5
