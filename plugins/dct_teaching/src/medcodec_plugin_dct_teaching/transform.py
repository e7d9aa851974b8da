"""Stage 1 of MMPC: the 8×8 block DCT-II and its inverse, for a whole image at once.

The seed codec loops over blocks in Python; here the image is cut into a stack of blocks with one reshape and
every block is transformed by a single batched matrix product. The arithmetic per block is the seed's
(``M @ block @ M.T`` in float64, the same left-to-right order), which is why the quantised coefficients, and
so the bitstream, are byte-identical to the reference encoder's (checked by the golden tests).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BLOCK_SIZE = 8
"""Edge of the square transform block; MMPC streams record it, the encoder always uses 8."""

FloatArray = npt.NDArray[np.float64]


def dct_matrix(n: int = BLOCK_SIZE) -> FloatArray:
    """The orthonormal DCT-II matrix ``M`` with ``M[k, x] = alpha_k cos(pi (2x + 1) k / 2n)``.

    ``alpha_0 = sqrt(1/n)`` and ``alpha_k = sqrt(2/n)`` otherwise, so ``M @ M.T`` is the identity and the
    inverse transform is simply the transpose. The entries are computed element by element exactly as the
    seed does (same float64 expression), so both codecs use bit-identical matrices.
    """
    k = np.arange(n, dtype=np.float64)[:, None]
    x = np.arange(n, dtype=np.float64)[None, :]
    alpha = np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return np.asarray(alpha * np.cos(np.pi * (2 * x + 1) * k / (2 * n)), dtype=np.float64)


def padded_shape(height: int, width: int, block: int = BLOCK_SIZE) -> tuple[int, int]:
    """Height and width rounded up to a whole number of blocks (the seed zero-pads right and bottom)."""
    return -(-height // block) * block, -(-width // block) * block


def image_to_blocks(image: npt.ArrayLike, block: int = BLOCK_SIZE) -> FloatArray:
    """Zero-pad a 2-D image and return its blocks in raster order, shape ``(n_blocks, block, block)``.

    The result is C-contiguous on purpose: numpy hands contiguous stacks to BLAS, which sums in the same
    order as the seed's per-block product (a strided view would take numpy's slower, differently ordered loop).
    """
    pixels = np.asarray(image)
    height, width = pixels.shape
    padded_h, padded_w = padded_shape(height, width, block)
    padded = np.zeros((padded_h, padded_w), dtype=np.float64)
    padded[:height, :width] = pixels
    tiles = padded.reshape(padded_h // block, block, padded_w // block, block).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(tiles).reshape(-1, block, block)


def blocks_to_image(blocks: FloatArray, height: int, width: int) -> FloatArray:
    """Inverse of :func:`image_to_blocks`: reassemble raster-ordered blocks and crop the padding."""
    block = blocks.shape[-1]
    padded_h, padded_w = padded_shape(height, width, block)
    tiles = blocks.reshape(padded_h // block, padded_w // block, block, block).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(tiles.reshape(padded_h, padded_w)[:height, :width])


def forward_dct(blocks: FloatArray) -> FloatArray:
    """DCT-II of every block: ``M @ block @ M.T`` (rows then columns), batched over the first axis."""
    m = dct_matrix(blocks.shape[-1])
    return np.asarray(m @ blocks @ m.T, dtype=np.float64)


def inverse_dct(coefficients: FloatArray) -> FloatArray:
    """Inverse DCT of every block: ``M.T @ C @ M``, the seed decoder's expression, batched."""
    m = dct_matrix(coefficients.shape[-1])
    return np.asarray(m.T @ np.ascontiguousarray(coefficients) @ m, dtype=np.float64)
