"""The core's conformance kit for MIC Lossless (discovery, adapter contract, round trips, golden frames)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from medcodec.testing import CodecConformance


class TestMicConformance(CodecConformance):
    codec_name = "mic"
    lossless = True
    bits_stored = (8, 12, 16)
    signed = (False, True)
    samples_per_pixel = (1,)
    encode_options: ClassVar[dict[str, Any]] = {}
    golden_dir = Path(__file__).parent / "golden"
