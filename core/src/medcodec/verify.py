"""Comparing a decoded result with the original: bit-exact equality, max error, PSNR and SSIM.

numpy only (no per-pixel Python loops); SSIM is the mean of a Gaussian-free 8x8 block SSIM, which is enough
to rank lossy results and to enforce a threshold, and is documented as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    identical: bool
    max_abs_error: float
    psnr: float | None  # None when identical (infinite)
    ssim: float | None
    dynamic_range: float


def _as_frames(arr: np.ndarray) -> np.ndarray:
    return arr.astype(np.float64, copy=False)


def psnr(original: np.ndarray, decoded: np.ndarray, peak: float | None = None) -> float:
    """PSNR in dB; ``peak`` defaults to the original's dynamic range (max - min, at least 1)."""
    a, b = _as_frames(original), _as_frames(decoded)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return float("inf")
    if peak is None:
        peak = max(float(a.max() - a.min()), 1.0)
    return float(10.0 * np.log10(peak * peak / mse))


def block_ssim(original: np.ndarray, decoded: np.ndarray, block: int = 8) -> float:
    """Mean SSIM over non-overlapping ``block`` x ``block`` windows of the last two axes."""
    a, b = _as_frames(original), _as_frames(decoded)
    if a.ndim >= 3 and a.shape[-1] in (3, 4) and a.shape[-1] < a.shape[-2]:  # colour: average channels
        a, b = a.mean(axis=-1), b.mean(axis=-1)
    rows, cols = a.shape[-2], a.shape[-1]
    r, c = max(rows // block, 1) * min(block, rows), max(cols // block, 1) * min(block, cols)
    br, bc = min(block, rows), min(block, cols)
    a = a[..., :r, :c].reshape(*a.shape[:-2], r // br, br, c // bc, bc)
    b = b[..., :r, :c].reshape(*b.shape[:-2], r // br, br, c // bc, bc)
    axes = (-3, -1)
    mu_a, mu_b = a.mean(axis=axes), b.mean(axis=axes)
    var_a, var_b = a.var(axis=axes), b.var(axis=axes)
    cov = ((a - np.expand_dims(mu_a, axes)) * (b - np.expand_dims(mu_b, axes))).mean(axis=axes)
    dyn = max(float(original.max()) - float(original.min()), 1.0)
    c1, c2 = (0.01 * dyn) ** 2, (0.03 * dyn) ** 2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


def compare(original: np.ndarray, decoded: np.ndarray) -> Comparison:
    """Compare two arrays of the same shape (decoded values, i.e. after sign extension)."""
    if original.shape != decoded.shape:
        raise ValueError(f"shape {decoded.shape} differs from the original's {original.shape}")
    if np.array_equal(original, decoded):
        dyn = float(original.max()) - float(original.min()) if original.size else 0.0
        return Comparison(True, 0.0, None, 1.0, dyn)
    diff = np.abs(original.astype(np.int64) - decoded.astype(np.int64))
    dyn = float(original.max()) - float(original.min())
    return Comparison(False, float(diff.max()), psnr(original, decoded), block_ssim(original, decoded), dyn)
