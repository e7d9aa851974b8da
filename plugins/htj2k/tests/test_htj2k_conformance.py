"""The medcodec conformance kit for the three HTJ2K codecs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from medcodec.testing import CodecConformance

GOLDEN = Path(__file__).parent / "golden"


class TestHtj2kLosslessConformance(CodecConformance):
    codec_name = "htj2k_lossless"
    golden_dir = GOLDEN / "htj2k_lossless"


class TestHtj2kLosslessRpclConformance(CodecConformance):
    codec_name = "htj2k_lossless_rpcl"
    golden_dir = GOLDEN / "htj2k_lossless_rpcl"


class TestHtj2kLossyConformance(CodecConformance):
    """.203 with a maximum-error target: the kit checks the bound and the lossy metadata."""

    codec_name = "htj2k"
    lossless = False
    max_abs_error = 2
    encode_options: ClassVar[Mapping[str, Any]] = {"htj2k_max_error": 2}
    golden_dir = GOLDEN / "htj2k"


class TestHtj2kReversibleConformance(CodecConformance):
    """.203 without a target is reversible: bit-exact, and not marked lossy."""

    codec_name = "htj2k"
    lossless = True
