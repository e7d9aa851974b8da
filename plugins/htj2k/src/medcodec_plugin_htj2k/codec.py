"""HTJ2K frames <-> numpy arrays with OpenJPH (through imagecodecs); no pydicom here.

imagecodecs writes the SIZ precision from the array's item size, so samples travel in 8-bit (BitsStored <= 8)
or 16-bit containers and the codestream declares that precision. OpenJPH's irreversible quantisation step
is relative to that declared precision, not to BitsStored: :func:`qstep_for` converts a step in stored units.
OpenJPH has no rate control and no error bound, so the lossy targets (maximum error, PSNR, ratio) are met by
a search on the quantisation step, each candidate checked by decoding it with the decoder the adapter uses
for it (:func:`encode_to_target`, :func:`decode_exact`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medcodec_plugin_htj2k import codestream

MIN_DECOMPOSITIONS = 5
"""OpenJPH's default; fewer levels compress worse on medical images."""
MAX_DECOMPOSITIONS = 32
"""ISO/IEC 15444-1 limit on decomposition levels."""
MIN_QSTEP = 1e-5
"""imagecodecs treats smaller quantisation steps as 0, i.e. as a request for the reversible path."""
BRACKET_FACTOR = 4.0
"""The search walks from its first guess in steps of this factor until the answer is bracketed."""
SEARCH_PRECISION = 1.04
"""The search stops when the best step meeting the target is within 4 % of one that misses it."""
MAX_SEARCH_ROUNDS = 24
"""Encodes per frame at most (a bracket walk over the whole step range plus the bisection)."""


class Htj2kCodecError(ValueError):
    """Invalid input or a codestream OpenJPH cannot handle; the adapter turns it into medcodec errors."""


def container_dtype(bits_stored: int, signed: bool) -> np.dtype[np.integer]:
    """The little-endian integer type that carries BitsStored-bit samples (the SIZ precision written)."""
    if not 1 <= bits_stored <= 16:
        raise Htj2kCodecError(f"BitsStored {bits_stored} is outside 1-16")
    if bits_stored <= 8:
        return np.dtype(np.int8 if signed else np.uint8)
    return np.dtype("<i2" if signed else "<u2")


def decompositions_for(rows: int, columns: int, lowest: int = codestream.RPCL_MAX_LOWEST_RESOLUTION) -> int:
    """Wavelet levels: at least :data:`MIN_DECOMPOSITIONS`, and enough that no side of the lowest resolution
    exceeds ``lowest`` pixels (the DICOM rule for HTJ2K Lossless RPCL)."""
    levels = max(0, math.ceil(math.log2(max(rows, columns, 1) / lowest)))
    return min(max(levels, MIN_DECOMPOSITIONS), MAX_DECOMPOSITIONS)


def qstep_for(step: float, dtype: np.dtype[np.integer]) -> float:
    """OpenJPH's relative quantisation step for an absolute ``step`` in stored units."""
    return step / float(1 << (8 * dtype.itemsize))


@dataclass(frozen=True)
class EncodeSettings:
    """How one frame is coded. ``qstep`` is OpenJPH's relative step; None with ``reversible`` False uses
    OpenJPH's default step."""

    reversible: bool = True
    colour_transform: bool = False
    decompositions: int | None = None
    tlm: bool = False
    qstep: float | None = None


_openjph_ready = False
_openjph_lock = threading.Lock()


def openjph() -> Any:
    """imagecodecs, once OpenJPH's one-time set-up has run in one thread; every OpenJPH call comes here.

    OpenJPH 0.26.3 (in imagecodecs 2026.3.6) fills its block-encoder VLC tables (memset, then refill) and
    picks its wavelet and colour functions when the process creates its first codestreams (encoding or
    decoding), guarded by a plain bool, not a lock. Threads that start their first codestreams together run
    it at the same time, and one can encode with tables that another has just cleared: the codestream is
    corrupt, OpenJPH fails to decode it ("ojph error", which imagecodecs swallows in
    ``_copy_from_codestream``), and the frame comes back wrong without an exception. The read-ahead does
    exactly that when a process's first HTJ2K work is a multi-frame dataset. Fixed upstream in OpenJPH 0.27.0
    (std::call_once, #243). Here the first call codes a tiny image in each mode under a lock, and every other
    OpenJPH call waits for it.
    """
    global _openjph_ready
    import imagecodecs

    if not _openjph_ready:
        with _openjph_lock:
            if not _openjph_ready:
                sample = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
                for reversible in (True, False):
                    stream = imagecodecs.htj2k_encode(sample, None if reversible else 0.01, rgb=True,
                                                      planar=False, resolutions=1, reversible=reversible)
                    imagecodecs.htj2k_decode(stream, planar=False)
                _openjph_ready = True
    return imagecodecs


def encode(arr: np.ndarray, settings: EncodeSettings) -> bytes:
    """One HTJ2K codestream for a (rows, columns) or (rows, columns, samples) integer array."""
    imagecodecs = openjph()

    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
        raise Htj2kCodecError(f"expected (rows, columns[, 3]) samples, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize > 2:
        raise Htj2kCodecError(f"expected 8- or 16-bit integer samples, got {arr.dtype}")
    if settings.colour_transform and (arr.ndim != 3 or arr.shape[2] != 3):
        raise Htj2kCodecError("a colour transform needs three samples per pixel")
    rows, columns = arr.shape[:2]
    levels = settings.decompositions if settings.decompositions is not None else decompositions_for(rows, columns)
    if not 0 <= levels <= MAX_DECOMPOSITIONS:
        raise Htj2kCodecError(f"decompositions must be 0-{MAX_DECOMPOSITIONS}, got {levels}")
    level = None
    if not settings.reversible and settings.qstep is not None:
        if settings.qstep < MIN_QSTEP:
            raise Htj2kCodecError(f"quantisation step {settings.qstep:g} is below OpenJPH's minimum {MIN_QSTEP:g}")
        level = settings.qstep
    try:
        return bytes(imagecodecs.htj2k_encode(
            arr, level, rgb=settings.colour_transform, planar=False, resolutions=levels,
            reversible=settings.reversible, tlm=settings.tlm))
    except Exception as exc:  # imagecodecs raises Htj2kError (RuntimeError) or ValueError
        raise Htj2kCodecError(f"OpenJPH could not encode the frame: {exc}") from exc


def decode(stream: bytes | bytearray, *, reduce: int = 0, out: np.ndarray | None = None) -> np.ndarray:
    """Decode with OpenJPH; ``reduce`` discards that many resolution levels (each halves both sides) without
    decoding them. Colour is returned interleaved (rows, columns, samples), colour transform undone.
    Irreversible codestreams whose samples reach the ends of their range may wrap: see :func:`decode_exact`."""
    imagecodecs = openjph()

    try:
        return imagecodecs.htj2k_decode(stream, planar=False, skipres=(reduce, reduce) if reduce else None,
                                        out=out)
    except Exception as exc:
        raise Htj2kCodecError(f"OpenJPH could not decode the codestream: {exc}") from exc


def decode_exact(stream: bytes | bytearray, info: codestream.CodestreamInfo, *,
                 out: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
    """Decode with the faster library that reconstructs ``stream`` correctly.

    Reversible (5-3) codestreams go to OpenJPH, about twice as fast as OpenJPEG. Irreversible (9-7) ones go to
    OpenJPEG (2.5.4, through imagecodecs): imagecodecs casts OpenJPH's reconstruction to the sample type
    without clamping, so a value that overshoots the range wraps around (255 + 1 -> 0: measured on a saturated
    8-bit image and on the ISO 15444-4 codestream ds1_ht_06_b11), and OpenJPH mis-decodes the irreversible ISO
    codestream ds1_ht_04_b9 even without wrapping; OpenJPEG clamps as the standard requires and decodes both.
    ``threads`` is passed to OpenJPEG (OpenJPH decodes on one thread).
    """
    if info.reversible:
        return decode(stream, out=out)
    import imagecodecs

    try:
        decoded = imagecodecs.jpeg2k_decode(stream, numthreads=threads)
    except Exception as exc:
        raise Htj2kCodecError(f"OpenJPEG could not decode the codestream: {exc}") from exc
    if decoded.shape[:2] != (info.height, info.width):
        raise Htj2kCodecError(f"OpenJPEG returned {decoded.shape[1]}x{decoded.shape[0]} samples for a "
                              f"{info.width}x{info.height} image")
    if out is None:
        return decoded
    out[...] = decoded.reshape(out.shape)
    return out


def reduce_for(info: codestream.CodestreamInfo, max_size: int) -> int:
    """The fewest resolution levels to discard so that no side exceeds ``max_size`` (at most all of them)."""
    for reduce in range(info.decompositions + 1):
        if max(info.resolution_size(reduce)) <= max_size:
            return reduce
    return info.decompositions


def thumbnail(stream: bytes | bytearray, max_size: int = 128) -> np.ndarray:
    """A small image decoded from the lowest resolution levels only (the others are never decoded).

    OpenJPH is the only library here that can skip resolution levels, and imagecodecs would wrap its samples
    (a low-pass band overshoots the sample range at dark or saturated edges: 0 - 12 -> 65524), so the
    codestream is decoded as if it were one bit wider (:func:`decode_widened`) and the result clipped.
    """
    if max_size < 1:
        raise Htj2kCodecError(f"thumbnail size must be at least 1 pixel, got {max_size}")
    info = codestream.parse(stream)
    values = decode_widened(stream, info, reduce=reduce_for(info, max_size))
    first = info.components[0]
    lo, hi = (-(1 << (first.precision - 1)), (1 << (first.precision - 1)) - 1) if first.signed else \
        (0, (1 << first.precision) - 1)
    itemsize = 1 if first.precision <= 8 else 2 if first.precision <= 16 else 4
    clipped: np.ndarray = np.clip(values, lo, hi).astype(f"{'i' if first.signed else 'u'}{itemsize}")
    return clipped


def decode_widened(stream: bytes | bytearray, info: codestream.CodestreamInfo, *, reduce: int = 0) -> np.ndarray:
    """OpenJPH's reconstruction as int64 values that cannot have wrapped.

    A copy of the codestream declares every component one bit more precise (SIZ Ssiz + 1), which makes
    imagecodecs return a container twice as wide. What changes is known: an unsigned component's DC level
    shift doubles (2**P instead of 2**(P-1)) and, for the irreversible wavelet, OpenJPH scales the normalised
    samples by 2**(P+1) instead of 2**P (values double); the packets and the reversible arithmetic do not
    depend on the precision.
    """
    precisions = {c.precision for c in info.components}
    if len(precisions) != 1 or len({c.signed for c in info.components}) != 1:
        raise Htj2kCodecError("components of different precision or sign are not supported")
    precision = precisions.pop()
    if precision >= 32:
        raise Htj2kCodecError(f"{precision}-bit samples cannot be widened")
    wide = bytearray(stream)
    siz_components = 4 + 2 + 36  # SOC, SIZ marker, Lsiz ... Csiz; SIZ always follows SOC
    for index in range(len(info.components)):
        wide[siz_components + 3 * index] += 1  # Ssiz: precision - 1 in the low 7 bits
    values = decode(wide, reduce=reduce).astype(np.int64)
    if not info.reversible:
        return np.rint(values / 2).astype(np.int64)  # unsigned: 2 * (x - 2**(P-1)) + 2**P = 2 * x
    if not info.components[0].signed:
        values -= 1 << (precision - 1)
    return values


# --- lossy targets -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossyTarget:
    """What a lossy encode must achieve; exactly one field is set."""

    max_error: float | None = None
    psnr: float | None = None
    ratio: float | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("max_error", "psnr", "ratio") if getattr(self, name) is not None]
        if len(given) != 1:
            raise Htj2kCodecError(f"give exactly one lossy target (max_error, psnr or ratio), got {given or 'none'}")
        if self.max_error is not None and self.max_error < 0:
            raise Htj2kCodecError(f"maximum error must be >= 0, got {self.max_error}")
        if self.psnr is not None and self.psnr <= 0:
            raise Htj2kCodecError(f"PSNR target must be > 0 dB, got {self.psnr}")
        if self.ratio is not None and self.ratio <= 1:
            raise Htj2kCodecError(f"compression ratio target must be > 1, got {self.ratio}")


@dataclass(frozen=True)
class TargetResult:
    stream: bytes
    reversible: bool
    step: float | None  # absolute quantisation step in stored units, None when reversible


def encode_to_target(arr: np.ndarray, target: LossyTarget, *, native_bytes: int,
                     base: EncodeSettings = EncodeSettings()) -> TargetResult:
    """The most compressed (largest step) irreversible encode that meets ``target``.

    When even the finest step misses a quality target, the frame is coded reversibly: lossless meets every
    quality target. A ratio target that the coarsest step still misses raises :class:`Htj2kCodecError`.
    """
    from medcodec.verify import psnr as psnr_of

    if target.max_error == 0:
        return _reversible(arr, base)
    dtype = arr.dtype
    peak = float(1 << (8 * dtype.itemsize))
    lo_step, hi_step = MIN_QSTEP * peak, peak  # absolute steps bracketing every useful quantiser
    original = arr.astype(np.int64)

    def meets(step: float) -> tuple[bool, bytes]:
        stream = encode(arr, _lossy(base, qstep_for(step, dtype)))
        if target.ratio is not None:
            return native_bytes / len(stream) >= target.ratio, stream
        decoded = decode_exact(stream, codestream.parse(stream)).astype(np.int64).reshape(original.shape)
        if target.max_error is not None:
            return int(np.abs(decoded - original).max(initial=0)) <= target.max_error, stream
        return psnr_of(original, decoded) >= float(target.psnr), stream  # type: ignore[arg-type]

    if target.ratio is not None:
        # Best quality first: a reversible stream that already reaches the ratio loses nothing.
        lossless = _reversible(arr, base)
        if native_bytes / len(lossless.stream) >= target.ratio:
            return lossless
        found = _search(meets, _first_guess(target, original), lo_step, hi_step, worse=1 / BRACKET_FACTOR)
        if found is None:
            raise Htj2kCodecError(f"compression ratio {target.ratio:g} is out of reach for this frame")
    else:
        found = _search(meets, _first_guess(target, original), lo_step, hi_step, worse=BRACKET_FACTOR)
        if found is None:  # even the finest step misses: lossless meets every quality target
            return _reversible(arr, base)
    step, stream = found
    return TargetResult(stream, False, step)


def _first_guess(target: LossyTarget, original: np.ndarray) -> float:
    """A step (stored units) near the answer, so the search starts close: a quantiser of step q leaves
    errors of about q/2 in each coefficient and an RMS error of about q/sqrt(12) after synthesis."""
    dynamic = max(float(original.max(initial=0)) - float(original.min(initial=0)), 1.0)
    if target.max_error is not None:
        return float(target.max_error)
    if target.psnr is not None:
        return dynamic * 10 ** (-target.psnr / 20) * math.sqrt(12)
    return dynamic / 256


def _search(meets: Callable[[float], tuple[bool, bytes]], guess: float, lo: float, hi: float, *,
            worse: float) -> tuple[float, bytes] | None:
    """The step at the boundary of ``meets``, on its good side, with its stream; None if no step in [lo, hi]
    meets it. ``worse`` is the factor that moves a step away from meeting the target (> 1 for quality
    targets, where coarser is worse; < 1 for a ratio target, where finer is worse).

    The guess is bracketed by walking in factors of ``worse``, then the bracket is bisected geometrically
    until its ends are within :data:`SEARCH_PRECISION` of each other.
    """
    def clamp(step: float) -> float:
        return min(max(step, lo), hi)

    good: float | None = None
    bad: float | None = None
    best = b""
    step = clamp(guess)
    for _ in range(MAX_SEARCH_ROUNDS):
        if good is not None and bad is not None:
            if max(good, bad) / min(good, bad) <= SEARCH_PRECISION:
                break
            step = math.sqrt(good * bad)
        elif good is not None:
            step = clamp(good * worse)
            if step == good:  # the extreme step still meets the target
                break
        elif bad is not None:
            step = clamp(bad / worse)
            if step == bad:  # the other extreme still misses it
                return None
        ok, stream = meets(step)
        if ok:
            good, best = step, stream
        else:
            bad = step
    return None if good is None else (good, best)


def _lossy(base: EncodeSettings, qstep: float) -> EncodeSettings:
    return replace(base, reversible=False, qstep=qstep)


def _reversible(arr: np.ndarray, base: EncodeSettings) -> TargetResult:
    return TargetResult(encode(arr, replace(base, reversible=True, qstep=None)), True, None)
