"""The core's conformance kit for MIC Native Lossless (discovery, adapter contract, round trips, golden frames)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from medcodec.testing import CodecConformance


class TestMicNativeConformance(CodecConformance):
    codec_name = "mic_native"
    lossless = True
    bits_stored = (8, 12, 16)
    signed = (False, True)
    samples_per_pixel = (1,)
    encode_options: ClassVar[Mapping[str, Any]] = {}
    golden_dir = Path(__file__).parent / "golden_native"
