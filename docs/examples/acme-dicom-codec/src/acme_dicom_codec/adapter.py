"""pydicom's plugin-module contract: is_available, the *_DEPENDENCIES tables, and the frame functions."""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from acme_dicom_codec.plugin import ACMEDeltaDeflate

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner
    from pydicom.pixels.encoders.base import EncodeRunner

DECODER_DEPENDENCIES = ENCODER_DEPENDENCIES = {ACMEDeltaDeflate: ("numpy",)}


def is_available(uid: str) -> bool:
    return uid == ACMEDeltaDeflate and find_spec("numpy") is not None


def encode_frame(src: bytes, runner: EncodeRunner) -> bytes:
    from acme_dicom_codec import codec  # lazy: numpy is imported on first use, not at plugin discovery

    return codec.encode(src, runner.rows, runner.columns, runner.samples_per_pixel, runner.bits_stored)


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    from acme_dicom_codec import codec

    return codec.decode(src, runner.rows, runner.columns, runner.samples_per_pixel, runner.bits_stored)
