"""medcodec's conformance kit, run on both profiles of the teaching codec.

The tolerance is not a guess: it is the proven bound of uniform quantisation under an orthonormal 8×8 DCT
(``quantise.max_pixel_error``: step/2 × 8 + 0.5), plus, for the improved profile, the most the deblocking
filter may move a pixel (``deblock.max_shift``). Integer samples make the bound an integer floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from medcodec.testing import CodecConformance
from medcodec_plugin_dct_teaching.deblock import max_shift
from medcodec_plugin_dct_teaching.quantise import max_pixel_error

QUALITY = 2


class TestDctTeachingConformance(CodecConformance):
    codec_name = "dct_teaching"
    lossless = False
    max_abs_error = math.floor(max_pixel_error(QUALITY))
    bits_stored = (8, 12, 16)
    signed = (False, True)
    samples_per_pixel = (1,)  # MMPC is greyscale; colour cases are skipped and refused by the policy
    encode_options: ClassVar[Mapping[str, Any]] = {"quality": QUALITY}
    golden_dir = Path(__file__).parent / "golden"


class TestDctTeachingImprovedConformance(TestDctTeachingConformance):
    max_abs_error = math.floor(max_pixel_error(QUALITY) + max_shift(QUALITY))
    encode_options: ClassVar[Mapping[str, Any]] = {"quality": QUALITY, "profile": "improved"}
