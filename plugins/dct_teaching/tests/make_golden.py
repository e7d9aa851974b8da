"""Write tests/golden/ (frozen MMPC frames + MANIFEST.json) once, from real images. Run by hand, never by pytest:

    MEDCODEC_LOAD_PLUGINS=dct_teaching uv run python plugins/dct_teaching/tests/make_golden.py

Each frame freezes one feature of the format, so a change that alters a bitstream or its decoding fails the
conformance kit's golden test:

* ``ct_small_q30_v1.mmpc``: pydicom's CT_small at quality 30, MMPC v1 (byte-equal to mmpc-golden's file);
* ``mr_12bit_q10_v1.mmpc``: a 12-bit MR crop, v1 (bits stored < bit depth);
* ``ct_8bit_q10_v1.mmpc``: an 8-bit CT crop, v1 with bit depth 8;
* ``ct_signed_q20_v2.mmpc``: a signed CT crop with -2000 padding, v2 (signed flag);
* ``full_range_q1_v2_wide.mmpc``: a full-range signed 16-bit crop at step 1, v2 with int32 coefficients;
* ``ct_signed_q40_improved.mmpc``: the signed CT crop through the improved profile (every v2 stage).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from medcodec.testing import shared_dir, write_golden
from medcodec_plugin_dct_teaching import codec
from medcodec_plugin_dct_teaching.plugin import CODEC_NAME, DCTTeaching
from pydicom.data import get_testdata_file

GOLDEN = Path(__file__).parent / "golden"


def main() -> None:
    shared = shared_dir()
    assert shared is not None, "the shared corpus is needed to build the golden frames"
    corpus = shared / "corpus"
    ct_small = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    mr_12 = pydicom.dcmread(corpus / "dcm_qa_ts/In/1.dcm").pixel_array[160:224, 160:224]
    ct_8 = pydicom.dcmread(corpus / "cornerstone3D/CTImage.dcm_JPEGProcess1TransferSyntax_1.2.840.10008.1.2.4.50.dcm"
                           ).pixel_array[200:264, 200:264]
    ct_signed = pydicom.dcmread(corpus / "cornerstone3D/CTImage.dcm").pixel_array[224:288, 0:64]
    full_range = pydicom.dcmread(corpus / "dcm4che/dcm4che-test-data/src/main/resources/test16signed.dcm"
                                 ).pixel_array[0:32, 0:32]
    cases = [
        ("ct_small_q30_v1.mmpc", ct_small, 30, 16, 16, 1, codec.SEED),
        ("mr_12bit_q10_v1.mmpc", mr_12, 10, 16, 12, 0, codec.SEED),
        ("ct_8bit_q10_v1.mmpc", ct_8, 10, 8, 8, 0, codec.SEED),
        ("ct_signed_q20_v2.mmpc", ct_signed, 20, 16, 16, 1, codec.SEED),
        ("full_range_q1_v2_wide.mmpc", full_range, 1, 16, 16, 1, codec.SEED),
        ("ct_signed_q40_improved.mmpc", ct_signed, 40, 16, 16, 1, codec.IMPROVED),
    ]
    entries = []
    for name, pixels, quality, allocated, stored, signed, pipeline in cases:
        stream = codec.encode(np.asarray(pixels), quality, bits_allocated=allocated, bits_stored=stored,
                              signed=bool(signed), pipeline=pipeline)
        attrs = {"rows": pixels.shape[0], "columns": pixels.shape[1], "samples_per_pixel": 1,
                 "bits_allocated": allocated, "bits_stored": stored, "pixel_representation": signed,
                 "photometric_interpretation": "MONOCHROME2"}
        entries.append((name, stream, attrs))
    for frame in write_golden(GOLDEN, CODEC_NAME, DCTTeaching, entries):
        print(frame.file, frame.stream_sha256[:12], frame.pixels_sha256[:12])


if __name__ == "__main__":
    main()
