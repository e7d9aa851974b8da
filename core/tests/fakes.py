"""An in-memory plugin for core tests: a real (if simple) private lossless codec, delta + zlib."""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Any

import medcodec
import numpy as np

TOY_UID = medcodec.MEDCODEC_UID_ROOT + ".9.1"  # the .9 arc is reserved for tests
TOY_NAME = "toy_delta_zlib"
ADAPTER = "fakes_adapter"


def _dtype(runner: Any) -> np.dtype:
    return np.dtype(np.uint8) if runner.bits_stored <= 8 else np.dtype("<u2")


def encode_frame(src: bytes, runner: Any) -> bytes:
    values = np.frombuffer(src, dtype=_dtype(runner))
    delta = np.diff(values, prepend=values.dtype.type(0))  # wraps modulo 2**bits: lossless
    return b"TOY1" + zlib.compress(delta.tobytes(), 6)


def decode_frame(src: bytes, runner: Any) -> bytes:
    if src[:4] != b"TOY1":
        raise medcodec.DecodeError(TOY_NAME, TOY_UID, "bad magic")
    try:
        delta = np.frombuffer(zlib.decompress(src[4:]), dtype=_dtype(runner))
    except zlib.error as exc:
        raise medcodec.DecodeError(TOY_NAME, TOY_UID, f"corrupt zlib stream: {exc}") from exc
    return np.cumsum(delta, dtype=delta.dtype).tobytes()


def adapter_module() -> ModuleType:
    """A module object following pydicom's plugin contract (put in sys.modules under ADAPTER)."""
    module = ModuleType(ADAPTER)
    module.DECODER_DEPENDENCIES = module.ENCODER_DEPENDENCIES = {TOY_UID: ("numpy",)}
    module.is_available = lambda uid: uid == TOY_UID
    module.encode_frame = encode_frame
    module.decode_frame = decode_frame
    return module


def plugin_module(name: str = TOY_NAME, uid: str = TOY_UID, **spec_overrides: Any) -> ModuleType:
    module = ModuleType(f"fake_plugin_{name}")

    @medcodec.hookimpl
    def medcodec_register_codecs(register: medcodec.Register) -> None:
        register(medcodec.CodecSpec(**{
            "name": name, "transfer_syntax": uid, "lossless": True, "adapter": ADAPTER,
            "distribution": "fake-distribution", "bits_stored": tuple(range(1, 17)), "samples_per_pixel": (1,),
            "keyword": "ToyDeltaZlib", "thread_safe": True, "uid_name": "Toy delta+zlib (medcodec test)", **spec_overrides}))

    module.medcodec_register_codecs = medcodec_register_codecs
    return module
