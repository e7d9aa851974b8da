"""Writes this folder's golden MIC Native frames and MANIFEST.json (run by hand, never by the tests):

    uv run python plugins/mic/tests/golden_native/make_golden.py

Frames (format version 1): pydicom's signed CT_small (predictor chosen by the encoder) and the same with
MED forced; an unsigned 12-bit MR crop; an 8-bit crop; a sparse-histogram frame that is packed; a frame
of two strips; a constant frame. Review the diff before committing: a changed stream means a changed
format, which needs a new version number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from medcodec.testing.golden import write_golden
from medcodec_plugin_mic import native
from medcodec_plugin_mic.plugin import MICNativeLossless

HERE = Path(__file__).resolve().parent


def attrs(image: np.ndarray, bits_stored: int, signed: bool) -> dict[str, object]:
    return {
        "rows": image.shape[0], "columns": image.shape[1], "samples_per_pixel": 1,
        "bits_allocated": 8 if bits_stored <= 8 else 16, "bits_stored": bits_stored,
        "pixel_representation": int(signed), "photometric_interpretation": "MONOCHROME2",
    }


def main() -> None:
    from pydicom import examples

    ct = examples.ct.pixel_array  # int16, 128x128
    mr = examples.mr.pixel_array  # uint16, 64x64
    eight = ((ct.astype(np.int32) - ct.min()) >> 4).astype(np.uint8)
    sparse = (ct.astype(np.int32) - ct.min()).astype(np.uint16) * 7  # every 7th value used: packs
    ramp = np.add.outer(np.arange(480), np.arange(1100)) // 16 - 40  # 480 x 1100: two strips, small file
    wide = (ramp + (np.arange(480 * 1100).reshape(480, 1100) % 3)).astype(np.int16)
    entries = [
        ("ct_signed16.micn", native.encode(ct, bits_stored=16), attrs(ct, 16, True)),
        ("ct_signed16_med.micn", native.encode(ct, bits_stored=16, predictor="med"), attrs(ct, 16, True)),
        ("mr_unsigned16.micn", native.encode(mr, bits_stored=16), attrs(mr, 16, False)),
        ("ct_unsigned8.micn", native.encode(eight, bits_stored=8), attrs(eight, 8, False)),
        ("ct_sparse16_packed.micn", native.encode(sparse, bits_stored=16, packing=True), attrs(sparse, 16, False)),
        ("ct_wide_two_strips.micn", native.encode(wide, bits_stored=16), attrs(wide, 16, True)),
        ("constant12.micn", native.encode(np.full((9, 5), 1234, np.uint16), bits_stored=12),
         attrs(np.zeros((9, 5)), 12, False)),
    ]
    assert native.read_header(entries[4][1]).packed and native.read_header(entries[5][1]).strips == 2
    write_golden(HERE, "mic_native", MICNativeLossless, entries)


if __name__ == "__main__":
    main()
