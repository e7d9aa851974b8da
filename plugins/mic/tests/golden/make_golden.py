"""Writes this folder's golden frames and MANIFEST.json (run by hand, never by the tests):

    uv run python plugins/mic/tests/golden/make_golden.py

Frames: a signed CT crop (pydicom's CT_small) in every pipeline, an unsigned MR from the reference's
test set, an 8-bit crop and a raw-fallback noise frame. Review the diff before committing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from medcodec.testing.golden import write_golden
from medcodec_plugin_mic import frame
from medcodec_plugin_mic.plugin import CODEC_NAME, MICLossless

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[3] / ".." / "shared"


def attrs(image: np.ndarray, bits_stored: int, signed: bool) -> dict[str, object]:
    return {
        "rows": image.shape[0], "columns": image.shape[1], "samples_per_pixel": 1,
        "bits_allocated": 8 if bits_stored <= 8 else 16, "bits_stored": bits_stored,
        "pixel_representation": int(signed), "photometric_interpretation": "MONOCHROME2",
    }


def main() -> None:
    from pydicom import examples

    ct = examples.ct.pixel_array  # int16, 128x128
    mr_raw = (SHARED / "mic-golden" / "MR.pixels.raw.nohdr").read_bytes()
    mr = np.frombuffer(mr_raw, "<u2").reshape(256, 256)[64:192, 64:192]
    eight = (ct.astype(np.int32) - ct.min()) >> 4
    noise = np.random.default_rng(2024).integers(0, 1 << 16, (16, 16)).astype(np.uint16)
    entries = []
    for kind in ("huff", "fse1", "fse2", "fse4"):
        entries.append((f"ct_signed16_{kind}.mic", frame.encode_frame(ct, kind=kind, signed=True, bits_stored=16),
                        attrs(ct, 16, True)))
    entries.append(("mr_unsigned16_fse2.mic", frame.encode_frame(mr, bits_stored=16), attrs(mr, 16, False)))
    image8 = eight.astype(np.uint8)
    entries.append(("ct_unsigned8_fse2.mic", frame.encode_frame(image8, bits_stored=8), attrs(image8, 8, False)))
    entries.append(("noise16_raw.mic", frame.encode_frame(noise, bits_stored=16), attrs(noise, 16, False)))
    write_golden(HERE, CODEC_NAME, MICLossless, entries)


if __name__ == "__main__":
    main()
