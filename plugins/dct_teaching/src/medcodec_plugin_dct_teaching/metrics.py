"""Distortion and rate metrics of the rate-distortion study, each written out so a student can check it.

PSNR is reported with two peaks, because the choice changes the number by tens of dB on medical images:
``2^BitsAllocated - 1`` (the seed's convention: 65535 for 16-bit data, whatever the image really spans) and
the image's own dynamic range ``max - min`` (what an observer actually sees).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.integer] | npt.NDArray[np.floating]

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11-tap Gaussian window, as in Wang et al. (2004)
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _difference(original: Array, decoded: Array, mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.float64]:
    diff = np.asarray(decoded, dtype=np.float64) - np.asarray(original, dtype=np.float64)
    return diff[mask] if mask is not None else diff.ravel()


def rmse(original: Array, decoded: Array, mask: npt.NDArray[np.bool_] | None = None) -> float:
    diff = _difference(original, decoded, mask)
    return float(np.sqrt(np.mean(diff**2))) if diff.size else float("nan")


def max_abs_error(original: Array, decoded: Array, mask: npt.NDArray[np.bool_] | None = None) -> float:
    diff = _difference(original, decoded, mask)
    return float(np.abs(diff).max()) if diff.size else float("nan")


def psnr(rmse_value: float, peak: float) -> float:
    """``20 log10(peak / RMSE)`` in dB; infinite for a perfect reconstruction."""
    if rmse_value == 0:
        return float("inf")
    return 20 * math.log10(peak / rmse_value)


def dynamic_range(original: Array) -> float:
    """``max - min`` of the original (at least 1), the second PSNR peak."""
    return max(float(np.max(original)) - float(np.min(original)), 1.0)


def _gaussian_blur(image: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Separable Gaussian filter with reflected borders, vectorised with sliding windows."""
    taps = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    kernel = np.exp(-(taps**2) / (2 * SSIM_SIGMA**2))
    kernel /= kernel.sum()
    padded = np.pad(image, SSIM_RADIUS, mode="reflect")
    rows = np.lib.stride_tricks.sliding_window_view(padded, kernel.size, axis=1) @ kernel
    return np.asarray(np.lib.stride_tricks.sliding_window_view(rows, kernel.size, axis=0) @ kernel)


def ssim(original: Array, decoded: Array, data_range: float) -> float:
    """Mean structural similarity (Gaussian window σ=1.5, K1=0.01, K2=0.03) over the whole image."""
    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(decoded, dtype=np.float64)
    if min(x.shape) <= SSIM_RADIUS:  # too small for the window: reflect padding is undefined
        return float("nan")
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _gaussian_blur(x), _gaussian_blur(y)
    var_x = _gaussian_blur(x * x) - mu_x**2
    var_y = _gaussian_blur(y * y) - mu_y**2
    cov = _gaussian_blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())


def otsu_threshold(image: Array, bins: int = 256) -> float:
    """Otsu's threshold: the grey level that maximises the between-class variance of the histogram."""
    counts, edges = np.histogram(np.asarray(image, dtype=np.float64), bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def body_mask(image: Array, threshold: float | None = None) -> npt.NDArray[np.bool_]:
    """Pixels above ``threshold`` (default: Otsu's), i.e. the body rather than air and FOV padding."""
    return np.asarray(image) > (otsu_threshold(image) if threshold is None else threshold)


def box_mask(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> npt.NDArray[np.bool_]:
    """A rectangular ROI ``(x0, y0, x1, y1)``, end-exclusive, in pixel columns/rows."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]):
        raise ValueError(f"ROI box {box} is empty or outside the {shape[1]}x{shape[0]} image")
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask
