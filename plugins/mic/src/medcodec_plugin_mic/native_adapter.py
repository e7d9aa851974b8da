"""pydicom plugin module for MIC Native Lossless (pydicom 3's decoder/encoder plugin contract).

Frames arrive as little-endian samples sized by BitsStored (1 byte for <= 8 bits, else 2) and are coded
word for word, so decoding returns exactly those samples in the BitsAllocated container; pydicom then
applies its usual sign correction for signed samples narrower than the container.

Options (``ds.compress(MICNativeLossless, mic_native_threads=4)``): ``mic_native_threads`` (0 = all
cores, the default; the bytes do not depend on it), ``mic_native_packing`` (None/True/False) and
``mic_native_predictor`` ("auto" or "med").
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from medcodec_plugin_mic.plugin import MICNativeLossless

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

CODEC_NAME = "mic_native"
DECODER_DEPENDENCIES = {MICNativeLossless: ("numpy",)}
ENCODER_DEPENDENCIES = {MICNativeLossless: ("numpy",)}


def is_available(uid: str) -> bool:
    return (
        uid == MICNativeLossless
        and find_spec("numpy") is not None
        and find_spec("medcodec_plugin_mic._mic") is not None
    )


def _option(runner: object, name: str, default: object) -> object:
    get = getattr(runner, "get_option", None)
    return get(name, default) if get is not None else default


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    from medcodec import EncodeError

    from medcodec_plugin_mic import native
    from medcodec_plugin_mic.runner_frames import frame_index, monochrome_image

    def fail(message: str) -> EncodeError:
        return EncodeError(CODEC_NAME, MICNativeLossless, message, frame=frame_index(runner))

    image, bits_stored = monochrome_image(src, runner, "MIC Native", fail)
    try:
        return native.encode(
            image,
            bits_stored=bits_stored,
            signed=int(runner.pixel_representation) == 1,
            packing=_option(runner, "mic_native_packing", None),  # type: ignore[arg-type]
            predictor=str(_option(runner, "mic_native_predictor", "auto")),
            threads=int(_option(runner, "mic_native_threads", 0)),  # type: ignore[call-overload]
        )
    except native.NativeCodecError as exc:
        raise fail(str(exc)) from exc


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    import numpy as np
    from medcodec import DecodeError

    from medcodec_plugin_mic import native
    from medcodec_plugin_mic.runner_frames import frame_index

    def fail(message: str) -> DecodeError:
        return DecodeError(CODEC_NAME, MICNativeLossless, message, frame=frame_index(runner))

    rows, columns = int(runner.rows), int(runner.columns)
    try:
        image = native.decode(
            bytes(src), width=columns, height=rows, threads=int(_option(runner, "mic_native_threads", 0))  # type: ignore[call-overload]
        )
    except native.NativeCodecError as exc:
        raise fail(str(exc)) from exc
    eight_bit = image.dtype.itemsize == 1
    if eight_bit != (int(runner.bits_stored) <= 8):
        raise fail(
            f"frame was coded with {'1-byte' if eight_bit else '2-byte'} samples but the dataset says "
            f"BitsStored={runner.bits_stored}"
        )
    containers: dict[int, np.dtype[Any]] = {8: np.dtype(np.uint8), 16: np.dtype("<u2"), 32: np.dtype("<u4")}
    container = containers.get(int(runner.bits_allocated))
    if container is None or (container.itemsize == 1 and not eight_bit):
        raise fail(f"BitsAllocated={runner.bits_allocated} cannot hold this frame's samples")
    words = image.view(np.uint8 if eight_bit else np.uint16)
    return bytes(words.astype(container).tobytes())
