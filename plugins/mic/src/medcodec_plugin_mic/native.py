"""MIC Native: medcodec's own lossless pipeline in the MIC Rust core (pixels <-> frame bytes, no pydicom).

Not stream-compatible with the reference MIC: MED or least-squares prediction, contexts from the row
above, static tANS with four interleaved lanes and raw mantissa bits, optional sparse-histogram packing,
in strips that encode and decode in parallel with byte-identical output for any thread count. The
frame format is specified in ``docs/codecs/mic-native.md``.

Samples are coded as the words DICOM stores (one byte per sample for BitsStored <= 8, else two), so a
round trip returns exactly the bytes that went in, whatever the unused high bits hold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medcodec_plugin_mic import _mic

CODEC_NAME = "mic_native"
PREDICTORS = ("auto", "med")


class NativeCodecError(ValueError):
    """A MIC Native frame could not be encoded or decoded; the message starts with 'mic_native'."""


@dataclass(frozen=True)
class NativeHeader:
    """What a frame header says (see the format specification)."""

    width: int
    height: int
    bits_stored: int
    coded_bits: int
    signed: bool
    eight_bit: bool
    packed: bool
    strip_rows: int
    strips: int


def default_threads() -> int:
    """Threads used when the caller passes 0: every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _threads(threads: int) -> int:
    if threads < 0:
        raise NativeCodecError(f"{CODEC_NAME}: threads={threads} must be >= 0 (0 = all cores)")
    return threads or default_threads()


def encode(
    pixels: npt.ArrayLike,
    *,
    bits_stored: int | None = None,
    signed: bool | None = None,
    packing: bool | None = None,
    predictor: str = "auto",
    threads: int = 1,
) -> bytes:
    """Encode one 2-D frame of 8- or 16-bit integer samples.

    :param bits_stored: recorded in the header (default: 8 for 1-byte samples, else 16).
    :param signed: two's complement samples (default: from the dtype).
    :param packing: None lets the encoder decide; True/False force sparse-histogram packing.
    :param predictor: ``"auto"`` (MED or LS4 per strip, by estimated size) or ``"med"``.
    :param threads: strips coded in parallel (0 = all cores); the output does not depend on it.
    """
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise NativeCodecError(f"{CODEC_NAME}: expected a 2-D single-channel frame, got shape {array.shape}")
    if array.dtype.kind not in "ui" or array.dtype.itemsize > 2:
        raise NativeCodecError(f"{CODEC_NAME}: samples must be 8- or 16-bit integers, got dtype {array.dtype}")
    height, width = array.shape
    if width == 0 or height == 0:
        raise NativeCodecError(f"{CODEC_NAME}: cannot encode an empty {width}x{height} frame")
    if predictor not in PREDICTORS:
        raise NativeCodecError(f"{CODEC_NAME}: predictor {predictor!r} is not one of {', '.join(PREDICTORS)}")
    array = array.astype(array.dtype.newbyteorder("="), copy=False)  # big-endian input: values, not bytes
    eight_bit = array.dtype.itemsize == 1
    if signed is None:
        signed = array.dtype.kind == "i"
    if bits_stored is None:
        bits_stored = 8 if eight_bit else 16
    unsigned = array.view(np.uint8 if eight_bit else np.uint16)
    words = np.ascontiguousarray(unsigned, dtype=np.uint16).ravel()
    try:
        return bytes(
            _mic.native_encode(
                words, width, height, bits_stored, bool(signed), eight_bit, packing, predictor, _threads(threads)
            )
        )
    except _mic.MicNativeError as exc:
        raise NativeCodecError(str(exc)) from exc


def _header(info: dict[str, object]) -> NativeHeader:
    return NativeHeader(**{name: info[name] for name in NativeHeader.__dataclass_fields__})  # type: ignore[arg-type]


def read_header(data: bytes) -> NativeHeader:
    """Parse and validate a frame header without decoding the pixels."""
    try:
        return _header(_mic.native_header(bytes(data)))
    except _mic.MicNativeError as exc:
        raise NativeCodecError(str(exc)) from exc


def decode(
    data: bytes, *, width: int | None = None, height: int | None = None, threads: int = 1
) -> npt.NDArray[np.integer]:
    """Decode one frame into a (height, width) array: uint8/int8 for 1-byte samples, else uint16/int16.

    ``width`` and ``height``, when given, must match the header (checked before allocating).
    """
    try:
        info, flat = _mic.native_decode(bytes(data), width, height, _threads(threads))
    except _mic.MicNativeError as exc:
        raise NativeCodecError(str(exc)) from exc
    header = _header(info)
    words: npt.NDArray[np.uint16] = np.asarray(flat, dtype=np.uint16).reshape(header.height, header.width)
    if header.eight_bit:
        samples = words.astype(np.uint8)
        return samples.view(np.int8) if header.signed else samples
    return words.view(np.int16) if header.signed else words
