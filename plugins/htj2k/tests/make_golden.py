"""Write tests/golden/<codec>/ (frozen HTJ2K frames + MANIFEST.json) once, from real images. Run by hand,
never by pytest:

    MEDCODEC_LOAD_PLUGINS=htj2k uv run python plugins/htj2k/tests/make_golden.py

Each frame is a crop of a real image encoded by this plugin; the conformance kit then checks that they keep
decoding (through pydicom, with our decoder first) to the recorded pixels:

* ``ct_signed_64.j2c``: a signed 16-bit CT crop (cornerstone3D CTImage) -- signed samples;
* ``mr_12bit_64.j2c``: a 12-bit MR crop (dcm_qa_12bit) -- precision 16 declared for 12 stored bits;
* ``us_rgb_rct_48.j2c``: an 8-bit RGB ultrasound crop with the reversible colour transform (YBR_RCT);
* for ``htj2k`` (.203) the same CT crop, irreversible with a 4-unit step (decoded by OpenJPEG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from medcodec.testing import shared_dir, write_golden
from medcodec_plugin_htj2k import codec
from medcodec_plugin_htj2k.plugin import HTJ2K, HTJ2KLossless, HTJ2KLosslessRPCL

GOLDEN = Path(__file__).parent / "golden"


def _attrs(arr: np.ndarray, bits_stored: int, photometric: str) -> dict[str, object]:
    return {"rows": arr.shape[0], "columns": arr.shape[1], "samples_per_pixel": 1 if arr.ndim == 2 else 3,
            "bits_allocated": 8 * arr.dtype.itemsize, "bits_stored": bits_stored,
            "pixel_representation": int(arr.dtype.kind == "i"), "photometric_interpretation": photometric}


def main() -> None:
    shared = shared_dir()
    assert shared is not None, "the shared corpus is needed to build the golden frames"
    corpus = shared / "corpus"
    ct = pydicom.dcmread(corpus / "cornerstone3D/CTImage.dcm").pixel_array[224:288, 200:264]
    mr = pydicom.dcmread(corpus / "dcm_qa_12bit/In/12bitUnsigned.dcm").pixel_array[160:224, 160:224]
    rgb = pydicom.dcmread(corpus / "dcm4che/dcm4che-test-data/src/main/resources/US-RGB-8-esopecho"
                          ).pixel_array[40:88, 100:148]
    lossless = [
        ("ct_signed_64.j2c", ct, 16, "MONOCHROME2", False),
        ("mr_12bit_64.j2c", mr, 12, "MONOCHROME2", False),
        ("us_rgb_rct_48.j2c", rgb, 8, "YBR_RCT", True),
    ]
    for name, uid, tlm in (("htj2k_lossless", HTJ2KLossless, False), ("htj2k_lossless_rpcl", HTJ2KLosslessRPCL, True)):
        entries = [(file, codec.encode(arr, codec.EncodeSettings(colour_transform=rct, tlm=tlm)),
                    _attrs(arr, bits, pi)) for file, arr, bits, pi, rct in lossless]
        write_golden(GOLDEN / name, name, uid, entries)
    lossy = codec.encode(ct, codec.EncodeSettings(reversible=False, qstep=codec.qstep_for(4, ct.dtype)))
    write_golden(GOLDEN / "htj2k", "htj2k", HTJ2K, [("ct_signed_64_step4.j2c", lossy, _attrs(ct, 16, "MONOCHROME2"))])


if __name__ == "__main__":
    main()
