"""pydicom 3 plugin module for the three HTJ2K transfer syntaxes: ``encode_frame`` and ``decode_frame``.

The medcodec core wires this module as ``medcodec.htj2k*`` into pydicom's Encoder and Decoder for .201, .202
and .203 -- the decoder ahead of pydicom's own ``pylibjpeg`` (OpenJPEG) plugin, which stays as the fallback.
imagecodecs is imported on first use (numpy is a dependency of pydicom's pixel handling anyway).

Photometric Interpretation follows pydicom's rule for JPEG 2000: it is the value *after* encoding. RGB or
YBR_FULL samples are coded as they are; YBR_RCT asks for the reversible colour transform (lossless), YBR_ICT
for the irreversible one (.203 with a lossy target only). The decoder undoes either and reports RGB.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import numpy as np
from medcodec.errors import DecodeError, EncodeError

from medcodec_plugin_htj2k import codec, codestream, readahead
from medcodec_plugin_htj2k.plugin import HTJ2K, SPECS, HTJ2KLosslessRPCL

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

    from medcodec_plugin_htj2k.codec import EncodeSettings, LossyTarget

_NAMES = {spec.transfer_syntax: spec.name for spec in SPECS}
DECODER_DEPENDENCIES = {uid: ("numpy", "imagecodecs") for uid in _NAMES}
ENCODER_DEPENDENCIES = {uid: ("numpy", "imagecodecs") for uid in _NAMES}

#: Lossy option -> LossyTarget field; only .203 accepts them.
TARGET_OPTIONS = {"htj2k_max_error": "max_error", "htj2k_psnr": "psnr", "htj2k_ratio": "ratio"}
LOSSY_OPTIONS = (*TARGET_OPTIONS, "htj2k_qstep")


def is_available(uid: str) -> bool:
    return uid in _NAMES and find_spec("numpy") is not None and find_spec("imagecodecs") is not None


# --- encoding ---------------------------------------------------------------------------------------------

def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    """One frame (little endian, 1 byte/sample for BitsStored <= 8, else 2) -> one HTJ2K codestream.

    The next frames of a multi-frame source are encoded ahead on the other cores (see ``readahead``).
    """
    return readahead.code_frame(runner, src, lambda frame: encode_one(frame, runner),
                                lambda: _raw_frames(runner))


def _raw_frames(runner: Any) -> Iterator[bytes] | None:
    if not (runner.is_array or runner.is_buffer or runner.is_dataset):
        return None
    return (runner.get_frame(index) for index in range(runner.number_of_frames))


def encode_one(src: bytes, runner: Any) -> bytes:
    """Encode one frame with the runner's settings (thread-safe: the runner is only read)."""
    uid = str(runner.transfer_syntax)
    try:
        arr = frame_array(src, runner)
        settings, target = encode_plan(uid, runner, arr)
        if target is None:
            return codec.encode(arr, settings)
        native = runner.rows * runner.columns * runner.samples_per_pixel * (runner.bits_allocated // 8)
        return codec.encode_to_target(arr, target, native_bytes=native, base=settings).stream
    except codec.Htj2kCodecError as exc:
        raise EncodeError(_NAMES[uid], uid, str(exc)) from exc


def frame_array(src: bytes, runner: Any) -> np.ndarray:
    """The frame as (rows, columns[, samples]) in the container OpenJPH will declare, values in range."""
    from medcodec.adapters.frames import frame_shape
    from medcodec.adapters.frames import samples as sample_values

    bits, signed = int(runner.bits_stored), int(runner.pixel_representation) == 1
    dtype = codec.container_dtype(bits, signed)
    rows, columns, spp = int(runner.rows), int(runner.columns), int(runner.samples_per_pixel)
    expected = rows * columns * spp * dtype.itemsize
    if len(src) != expected:
        raise codec.Htj2kCodecError(f"frame has {len(src)} bytes, expected {expected} "
                                    f"({rows}x{columns}x{spp} samples of {dtype.itemsize} byte(s))")
    arr = np.frombuffer(src, dtype=dtype)
    if bits % 8:  # unused high bits may hold overlays or garbage: keep only the stored value
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if arr.size and (int(arr.max()) > hi or (signed and int(arr.min()) < lo)):
            arr = sample_values(src, bits, signed).astype(dtype)
    return frame_shape(arr, runner)


def encode_plan(uid: str, runner: Any, arr: np.ndarray) -> tuple[EncodeSettings, LossyTarget | None]:
    """Settings for this syntax and these options, and the lossy target to search for (None: encode once)."""
    options = {key: runner.get_option(key, None) for key in (*LOSSY_OPTIONS, "htj2k_reversible",
                                                               "htj2k_decompositions")}
    lossy_given = [key for key in LOSSY_OPTIONS if options[key] is not None]
    if lossy_given and uid != HTJ2K:
        raise codec.Htj2kCodecError(
            f"lossy option(s) {', '.join(lossy_given)} cannot be used with a lossless-only HTJ2K syntax; "
            f"use HTJ2K ({HTJ2K}) instead")
    if len(lossy_given) > 1:
        raise codec.Htj2kCodecError(f"give only one of {', '.join(LOSSY_OPTIONS)}, got {', '.join(lossy_given)}")
    if lossy_given and options["htj2k_reversible"]:
        raise codec.Htj2kCodecError(f"htj2k_reversible=True contradicts {lossy_given[0]}")
    lossy = bool(lossy_given)

    photometric = str(runner.photometric_interpretation)
    colour_transform = arr.ndim == 3 and photometric in ("YBR_RCT", "YBR_ICT")
    if photometric == "YBR_RCT" and lossy:
        raise codec.Htj2kCodecError("YBR_RCT declares the reversible colour transform, which a lossy encode "
                                    "cannot use; set Photometric Interpretation to YBR_ICT or RGB")
    if photometric == "YBR_ICT" and not lossy:
        raise codec.Htj2kCodecError("YBR_ICT declares the irreversible colour transform: give a lossy target "
                                    f"({', '.join(LOSSY_OPTIONS)}) with HTJ2K ({HTJ2K}), or use YBR_RCT or RGB")

    decompositions = None if options["htj2k_decompositions"] is None else int(options["htj2k_decompositions"])
    rows, columns = arr.shape[:2]
    limit = codestream.RPCL_MAX_LOWEST_RESOLUTION
    if uid == HTJ2KLosslessRPCL and decompositions is not None and max(rows, columns) > limit << decompositions:
        raise codec.Htj2kCodecError(
            f"htj2k_decompositions={decompositions} leaves a lowest resolution larger than {limit} px for a "
            f"{columns}x{rows} frame, which HTJ2K Lossless RPCL forbids "
            f"(use at least {codec.decompositions_for(rows, columns)})")
    qstep = options["htj2k_qstep"]
    finest = codec.MIN_QSTEP * (1 << (8 * arr.dtype.itemsize))
    if qstep is not None and float(qstep) < finest:
        raise codec.Htj2kCodecError(
            f"htj2k_qstep={qstep} is finer than OpenJPH's finest step for {8 * arr.dtype.itemsize}-bit samples "
            f"({finest:.3g} stored units); use a larger step, or no lossy option for a lossless encode")
    settings = codec.EncodeSettings(
        reversible=not lossy, colour_transform=colour_transform, decompositions=decompositions,
        tlm=uid == HTJ2KLosslessRPCL, qstep=None if qstep is None else codec.qstep_for(float(qstep), arr.dtype))
    if not lossy or qstep is not None:
        return settings, None
    key = lossy_given[0]
    return settings, codec.LossyTarget(**{TARGET_OPTIONS[key]: float(options[key])})


# --- decoding ---------------------------------------------------------------------------------------------

def decode_frame(src: bytes, runner: DecodeRunner) -> bytearray:
    """One HTJ2K (or JPEG 2000) codestream -> the frame's bytes (OpenJPH if reversible, else OpenJPEG).

    The next frames of a multi-frame dataset are decoded ahead on the other cores (see ``readahead``); the
    single frame of a one-frame dataset may use them inside OpenJPEG instead (irreversible codestreams).
    """
    uid = str(runner.transfer_syntax)
    threads = readahead.threads_for(runner) if int(runner.number_of_frames or 1) == 1 else 1
    buffer, info = readahead.code_frame(runner, src, lambda frame: decode_one(frame, uid, threads),
                                        lambda: _encoded_frames(runner))
    precision = max(c.precision for c in info.components)
    runner.set_option("bits_allocated", 8 if precision <= 8 else 16 if precision <= 16 else 32)
    if len(info.components) > 1:
        runner.set_option("planar_configuration", 0)
        if runner.photometric_interpretation in ("YBR_RCT", "YBR_ICT"):
            runner.set_option("photometric_interpretation", "RGB")  # OpenJPH undid the transform
    return buffer


def _encoded_frames(runner: Any) -> Iterator[bytes] | None:
    from pydicom.encaps import generate_frames

    src = runner.src
    if not isinstance(src, bytes):
        return None  # a file object: reading it from two places would move its position under pydicom
    return generate_frames(src, number_of_frames=runner.number_of_frames,
                           extended_offsets=runner.extended_offsets)


def decode_one(src: bytes, uid: str, threads: int = 1) -> tuple[bytearray, Any]:
    """Check and decode one codestream (thread-safe); returns the frame's bytes and its header facts."""

    try:
        info = codestream.parse(src)
        codestream.check_complete(src, info)
        buffer, _ = decode_into_buffer(src, info, threads)
    except (codec.Htj2kCodecError, codestream.CodestreamError) as exc:
        raise DecodeError(_NAMES.get(uid, "htj2k"), uid, str(exc)) from exc
    return buffer, info


def decode_into_buffer(src: bytes | bytearray, info: Any, threads: int = 1) -> tuple[bytearray, np.ndarray]:
    """Decode straight into a bytearray (what pydicom wants back), without an extra copy of the frame."""

    first = info.components[0]
    if any(c.dx != 1 or c.dy != 1 for c in info.components):
        raise codec.Htj2kCodecError("sub-sampled components are not supported")
    precision = max(c.precision for c in info.components)
    itemsize = 1 if precision <= 8 else 2 if precision <= 16 else 4
    dtype = np.dtype(f"{'i' if first.signed else 'u'}{itemsize}")
    shape: tuple[int, ...] = (info.height, info.width)
    if len(info.components) > 1:
        shape = (*shape, len(info.components))
    buffer = bytearray(int(np.prod(shape)) * itemsize)
    out = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    codec.decode_exact(src, info, out=out, threads=threads)
    return buffer, out
