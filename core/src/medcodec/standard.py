"""Built-in plugin: the standard DICOM codecs, through the libraries pydicom already uses.

JPEG 2000 (pylibjpeg-openjpeg), JPEG-LS (pyjpegls) and RLE (pylibjpeg-rle) are encoded and decoded by pydicom's
own plugins; declaring them here puts them in the same registry, so the policy, verification and metadata
hooks treat them exactly like plugin codecs. Two adapters are medcodec's own: a JPEG-LS near-lossless encoder
that checks its error bound, and Deflated Image Frame Compression, which pydicom 3.0 cannot code.
"""

from __future__ import annotations

from medcodec._hookimpl import hookimpl
from medcodec.registry import CodecSpec, Register

DIST = "medcodec"
_J2K_BITS = tuple(range(1, 17))

STANDARD_CODECS = (
    CodecSpec("jpeg2000_lossless", "1.2.840.10008.1.2.4.90", True, "medcodec.adapters.jpeg2000", DIST,
              "JPEG 2000 lossless (ISO 15444-1, reversible 5/3), OpenJPEG via pylibjpeg-openjpeg",
              bits_stored=_J2K_BITS, decoder=False, colour_photometric="YBR_RCT"),
    CodecSpec("jpeg2000", "1.2.840.10008.1.2.4.91", False, "medcodec.adapters.jpeg2000", DIST,
              "JPEG 2000 lossy (irreversible 9/7), OpenJPEG via pylibjpeg-openjpeg",
              bits_stored=_J2K_BITS, lossy_method="ISO_15444_1", default_options={"j2k_cr": [10]}, decoder=False,
              colour_photometric="YBR_ICT",
              options={"j2k_cr": "list of compression ratios per quality layer",
                       "j2k_psnr": "list of PSNR targets per quality layer (dB)"}),
    CodecSpec("jpeg_ls_lossless", "1.2.840.10008.1.2.4.80", True, "medcodec.adapters.jpeg_ls", DIST,
              "JPEG-LS lossless (ISO 14495-1), CharLS via pyjpegls", bits_stored=tuple(range(2, 17)),
              decoder=False, exclusive_encoder=True),
    CodecSpec("jpeg_ls_near_lossless", "1.2.840.10008.1.2.4.81", False, "medcodec.adapters.jpeg_ls", DIST,
              "JPEG-LS near-lossless, every frame checked against its NEAR bound",
              bits_stored=tuple(range(2, 17)), lossy_method="ISO_14495_1", decoder=False,
              exclusive_encoder=True, default_options={"jls_error": 2}, options={"jls_error": "maximum absolute error per sample (NEAR)"}),
    CodecSpec("rle_lossless", "1.2.840.10008.1.2.5", True, None, DIST,
              "RLE Lossless (PackBits per byte plane), pylibjpeg-rle or pydicom",
              bits_stored=tuple(range(1, 17))),
    CodecSpec("deflated_image_frame", "1.2.840.10008.1.2.8.1", True, "medcodec.adapters.deflate", DIST,
              "Deflated Image Frame Compression (raw deflate per frame), medcodec's adapter",
              bits_stored=tuple(range(1, 17)), options={"deflate_level": "zlib level 0-9 (default 6)"},
              uid_name="Deflated Image Frame Compression", keyword="DeflatedImageFrameCompression",
              thread_safe=True),
)


@hookimpl
def medcodec_register_codecs(register: Register) -> None:
    for spec in STANDARD_CODECS:
        register(spec)
