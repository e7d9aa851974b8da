"""``medcodec mmpc explain``: follow one 8×8 block, and the whole image's byte counts, through every stage.

It calls the same stage functions as the codec (nothing is re-implemented here), so what it prints is what
the encoder does. The documentation's worked example is its output.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

from medcodec_plugin_dct_teaching import layout, rle
from medcodec_plugin_dct_teaching.bitstream import V1_HEADER_SIZE
from medcodec_plugin_dct_teaching.entropy import ZLIB_LEVEL
from medcodec_plugin_dct_teaching.quantise import dequantise, max_pixel_error, quality_to_step, quantise
from medcodec_plugin_dct_teaching.transform import (
    BLOCK_SIZE,
    forward_dct,
    image_to_blocks,
    inverse_dct,
    padded_shape,
)


def _matrix(values: npt.NDArray[np.generic], fmt: str) -> str:
    return "\n".join("    " + " ".join(format(v, fmt) for v in row) for row in values)


def explain(image: npt.NDArray[np.integer], quality: int, block: tuple[int, int] | None = None) -> str:
    """A plain-text walk through the seed pipeline for block ``(block_row, block_column)`` of ``image``."""
    step = quality_to_step(quality)
    height, width = image.shape
    padded_h, padded_w = padded_shape(height, width)
    blocks_down, blocks_across = padded_h // BLOCK_SIZE, padded_w // BLOCK_SIZE
    row, column = block if block is not None else (blocks_down // 2, blocks_across // 2)
    if not (0 <= row < blocks_down and 0 <= column < blocks_across):
        raise ValueError(f"block ({row}, {column}) is outside the {blocks_down} x {blocks_across} block grid")
    index = row * blocks_across + column

    all_blocks = image_to_blocks(image)
    coefficients = forward_dct(all_blocks)
    levels = quantise(coefficients, step).reshape(-1, BLOCK_SIZE * BLOCK_SIZE)
    pixels, block_coefficients, block_levels = all_blocks[index], coefficients[index], levels[index]
    rebuilt = inverse_dct(dequantise(block_levels.reshape(1, BLOCK_SIZE, BLOCK_SIZE), step))[0]
    reconstruction = np.round(rebuilt)
    error = reconstruction - pixels
    zigzag = block_levels[layout.zigzag_order(BLOCK_SIZE)]
    last_nonzero = int(np.flatnonzero(zigzag)[-1]) + 1 if zigzag.any() else 0
    block_bytes = block_levels.astype("<i2").tobytes()
    pairs = np.frombuffer(rle.rle_encode(block_bytes), dtype=np.uint8).reshape(-1, 2)

    raw = levels.astype("<i2").tobytes() if layout.fits(levels, 2) else levels.astype("<i4").tobytes()
    after_rle = rle.rle_encode(raw)
    after_zlib = zlib.compress(after_rle, ZLIB_LEVEL)
    without_rle = zlib.compress(raw, ZLIB_LEVEL)
    top, left = row * BLOCK_SIZE, column * BLOCK_SIZE
    lines = [
        (f"Image {width} x {height}, quantisation step {step} (quality {quality}); block ({row}, {column}) of "
        f"{blocks_down} x {blocks_across} = pixels [{top}:{top + 8}, {left}:{left + 8}], block number {index} "
        "in raster order."),
        "",
        "1. Pixels (zero padding outside the image):",
        _matrix(pixels.astype(np.int64), "6d"),
        f"   mean {pixels.mean():.3f}",
        "",
        "2. DCT-II coefficients C = M @ block @ M.T (top-left = DC = 8 x mean):",
        _matrix(block_coefficients, "8.1f"),
        (f"   DC {block_coefficients[0, 0]:.3f} = 8 x {pixels.mean():.3f}; energy (sum of squares) is the same "
        f"as the pixels': {np.sum(block_coefficients**2):.0f} vs {np.sum(pixels**2):.0f}"),
        "",
        f"3. Levels round(C / {step}) — the only lossy step:",
        _matrix(block_levels.reshape(BLOCK_SIZE, BLOCK_SIZE), "6d"),
        f"   {int(np.count_nonzero(block_levels))} of 64 levels are non-zero",
        "",
        "4. Decoder: levels x step, inverse DCT M.T @ C @ M, round:",
        _matrix(reconstruction.astype(np.int64), "6d"),
        "   error (reconstruction - original):",
        _matrix(error.astype(np.int64), "6d"),
        (f"   max |error| {np.abs(error).max():.0f}, RMSE {np.sqrt(np.mean(error**2)):.2f} "
        f"(bound {max_pixel_error(step):g}; uniform-noise estimate step/sqrt(12) = {step / np.sqrt(12):.2f})"),
        "",
        "5. Bytes of this block: 64 levels row-major as int16 little endian (v1 layout):",
        "    " + block_bytes.hex(" ", 2),
        f"   byte RLE (count, value) pairs: {len(pairs)} pairs = {2 * len(pairs)} bytes for 128 input bytes",
        "    " + " ".join(f"({c},{v:02x})" for c, v in pairs),
        f"   in zig-zag order the levels are {zigzag[:last_nonzero].tolist()} followed by {64 - last_nonzero} zeros",
        "",
        "6. The whole image, stage by stage:",
        f"   levels as bytes        {len(raw):>9} bytes ({len(levels)} blocks x 64 x {len(raw) // levels.size})",
        f"   after byte RLE         {len(after_rle):>9} bytes",
        f"   after zlib level 6     {len(after_zlib):>9} bytes  (zlib without the RLE stage: {len(without_rle)})",
        (f"   + 17-byte v1 header    {len(after_zlib) + V1_HEADER_SIZE:>9} bytes = "
        f"{(len(after_zlib) + V1_HEADER_SIZE) * 8 / image.size:.3f} bpp"),
    ]
    return "\n".join(lines)
