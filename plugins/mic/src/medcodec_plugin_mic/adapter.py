"""pydicom plugin module for MIC Lossless (pydicom 3's decoder/encoder plugin contract).

Frames arrive as little-endian samples sized by BitsStored (1 byte for <= 8 bits, else 2). They are
coded as uint16 words (signed samples as two's complement, as the reference does) inside the frame
header of ``frame.py``. Decoding returns a container sized by BitsAllocated; pydicom then applies its
usual unused-bits correction, which restores the sign of signed samples narrower than the container.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from medcodec_plugin_mic.plugin import CODEC_NAME, MICLossless

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

DECODER_DEPENDENCIES = {MICLossless: ("numpy",)}
ENCODER_DEPENDENCIES = {MICLossless: ("numpy",)}


def is_available(uid: str) -> bool:
    return uid == MICLossless and find_spec("numpy") is not None and find_spec("medcodec_plugin_mic._mic") is not None


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    from medcodec import EncodeError

    from medcodec_plugin_mic import frame
    from medcodec_plugin_mic.codec import KINDS, MicCodecError
    from medcodec_plugin_mic.runner_frames import frame_index, monochrome_image

    def fail(message: str) -> EncodeError:
        return EncodeError(CODEC_NAME, MICLossless, message, frame=frame_index(runner))

    image, bits_stored = monochrome_image(src, runner, "MIC", fail)
    kind = runner.get_option("mic_kind", "fse2")
    if kind not in KINDS:
        raise fail(f"option mic_kind={kind!r} is not one of {', '.join(KINDS)}")
    try:
        return frame.encode_frame(
            image, kind=kind, signed=int(runner.pixel_representation) == 1, bits_stored=bits_stored
        )
    except MicCodecError as exc:
        raise fail(str(exc)) from exc


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    import numpy as np
    from medcodec import DecodeError

    from medcodec_plugin_mic import frame
    from medcodec_plugin_mic.codec import MicCodecError
    from medcodec_plugin_mic.runner_frames import frame_index

    def fail(message: str) -> DecodeError:
        return DecodeError(CODEC_NAME, MICLossless, message, frame=frame_index(runner))

    try:
        header, image = frame.decode_frame(bytes(src), width=int(runner.columns), height=int(runner.rows))
    except MicCodecError as exc:
        raise fail(str(exc)) from exc
    bits_allocated = int(runner.bits_allocated)
    if header.eight_bit != (int(runner.bits_stored) <= 8):
        raise fail(
            f"frame was coded with {'8' if header.eight_bit else '16'}-bit samples but the dataset says "
            f"BitsStored={runner.bits_stored}"
        )
    containers: dict[int, np.dtype[Any]] = {8: np.dtype(np.uint8), 16: np.dtype("<u2"), 32: np.dtype("<u4")}
    container = containers.get(bits_allocated)
    if container is None:
        raise fail(f"BitsAllocated={bits_allocated} is not supported (8, 16 or 32)")
    if header.eight_bit and bits_allocated == 8:
        return image.astype(np.uint8).tobytes()
    if bits_allocated == 8:
        raise fail("a 16-bit frame cannot be returned in an 8-bit container")
    return bytes(image.astype(container).tobytes())
