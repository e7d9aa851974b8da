"""JPEG 2000 encoding of frames too small for pydicom's encoder.

pydicom encodes JPEG 2000 through pylibjpeg-openjpeg, which always uses 6 resolution levels; OpenJPEG then
refuses any frame narrower or shorter than 32 pixels (``opj_start_compress()`` fails on 1x1 and 7x13). This
adapter is wired *after* pydicom's plugin, so pydicom tries it only when that fails: it encodes with OpenJPEG
through imagecodecs with as many resolution levels as the frame allows. Larger frames never reach it.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from medcodec.errors import EncodeError

if TYPE_CHECKING:
    from pydicom.pixels.encoders.base import EncodeRunner

JPEG2000Lossless = "1.2.840.10008.1.2.4.90"
JPEG2000 = "1.2.840.10008.1.2.4.91"
ENCODER_DEPENDENCIES = {JPEG2000Lossless: ("numpy", "imagecodecs"), JPEG2000: ("numpy", "imagecodecs")}
DECODER_DEPENDENCIES: dict[str, tuple[str, ...]] = {}
#: pylibjpeg-openjpeg's fixed 6 resolutions need 2**5 pixels in each direction.
PYLIBJPEG_MIN_SIZE = 32


def is_available(uid: str) -> bool:
    return uid in ENCODER_DEPENDENCIES and find_spec("imagecodecs") is not None


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    import imagecodecs
    import numpy as np

    from medcodec.adapters.frames import frame_shape

    uid = str(runner.transfer_syntax)
    name = "jpeg2000_lossless" if uid == JPEG2000Lossless else "jpeg2000"
    rows, columns = runner.rows, runner.columns
    if min(rows, columns) >= PYLIBJPEG_MIN_SIZE:
        raise EncodeError(name, uid, "frame is large enough for pydicom's own JPEG 2000 encoder, which failed")
    signed = runner.pixel_representation == 1
    bits = runner.bits_stored
    dtype = (np.int8 if signed else np.uint8) if bits <= 8 else (np.dtype("<i2") if signed else np.dtype("<u2"))
    arr = frame_shape(np.frombuffer(src, dtype=dtype), runner)
    resolutions = max(1, min(rows, columns).bit_length())
    psnr = runner.get_option("j2k_psnr", None)
    lossy = uid == JPEG2000 and bool(psnr or runner.get_option("j2k_cr", None))
    try:
        return bytes(imagecodecs.jpeg2k_encode(
            arr, level=round(float(psnr[0])) if lossy and psnr else 0, codecformat="J2K", reversible=not lossy,
            bitspersample=bits, resolutions=resolutions, mct=False, numthreads=1))
    except Exception as exc:  # imagecodecs raises its own error classes
        raise EncodeError(name, uid, str(exc)) from exc


def decode_frame(src: bytes, runner: object) -> bytes:  # encode-only adapter
    raise NotImplementedError("medcodec's JPEG 2000 adapter only encodes")
