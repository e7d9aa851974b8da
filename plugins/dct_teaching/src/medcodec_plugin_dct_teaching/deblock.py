"""Optional decoder-side deblocking filter (MMPC v2 flag ``DEBLOCK``).

Each 8×8 block is quantised on its own, so at coarse steps neighbouring blocks disagree along their shared
edge: the "blocking" the seed lists as a limitation. This filter, a simplified form of H.264's normal-strength
edge filter, looks at the two pixels on each side of every block edge (``p1 p0 | q0 q1``) and moves ``p0`` and
``q0`` towards each other when the jump looks like a quantisation artefact rather than anatomy:

* the jump ``|q0 - p0|`` is below ``EDGE_FACTOR × step`` (a real edge is larger than what quantisation with
  this step can create), and both sides are flat (``|p1 - p0|`` and ``|q1 - q0|`` below ``FLAT_FACTOR × step``);
* the correction is ``(4 (q0 - p0) + (p1 - q1)) / 8``, limited to ``± CLAMP_FACTOR × step``.

Vertical edges are filtered first, then horizontal ones, on the float reconstruction before rounding. The
factors are fixed by the format (a stream decodes to the same pixels everywhere), and the filter never moves
a pixel by more than ``CLAMP_FACTOR × step``, which keeps the codec's error bound explicit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EDGE_FACTOR = 2.0
FLAT_FACTOR = 0.5
CLAMP_FACTOR = 0.25

FloatArray = npt.NDArray[np.float64]


def _filter_vertical_edges(image: FloatArray, step: int, block: int) -> None:
    """Filter, in place, every vertical block edge that has two pixels on each side."""
    edges = np.arange(block, image.shape[1] - 1, block)
    if edges.size == 0:
        return
    p1, p0, q0, q1 = (image[:, edges + shift] for shift in (-2, -1, 0, 1))
    jump = q0 - p0
    artefact = ((np.abs(jump) < EDGE_FACTOR * step) & (np.abs(p1 - p0) < FLAT_FACTOR * step)
                & (np.abs(q1 - q0) < FLAT_FACTOR * step))
    limit = CLAMP_FACTOR * step
    delta = np.where(artefact, np.clip((4 * jump + (p1 - q1)) / 8, -limit, limit), 0.0)
    image[:, edges - 1] = p0 + delta
    image[:, edges] = q0 - delta


def deblock(image: FloatArray, step: int, block: int = 8) -> FloatArray:
    """Return a deblocked copy of a float reconstruction quantised with ``step``."""
    filtered = np.array(image, dtype=np.float64, copy=True)
    _filter_vertical_edges(filtered, step, block)
    transposed = np.ascontiguousarray(filtered.T)
    _filter_vertical_edges(transposed, step, block)  # horizontal edges = vertical edges of the transpose
    return np.ascontiguousarray(transposed.T)


def max_shift(step: int) -> float:
    """Largest change the filter can make to one pixel (an edge pixel of both a row and a column edge)."""
    return 2 * CLAMP_FACTOR * step
