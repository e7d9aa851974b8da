"""The standard DICOM codecs pass the same conformance kit as every plugin codec."""

from typing import ClassVar

from medcodec.testing import CodecConformance


class TestJPEGLSLossless(CodecConformance):
    codec_name = "jpeg_ls_lossless"
    decode_error_match = "Unable to decode"


class TestJPEGLSNearLossless(CodecConformance):
    codec_name = "jpeg_ls_near_lossless"
    max_abs_error = 2
    signed = (False,)  # signed near-lossless wraps at the sign boundary: see test_standard_codecs.py
    decode_error_match = "Unable to decode"


class TestJPEG2000Lossless(CodecConformance):
    codec_name = "jpeg2000_lossless"
    decode_error_match = "Unable to decode"


class TestJPEG2000(CodecConformance):
    codec_name = "jpeg2000"
    encode_options: ClassVar[dict[str, object]] = {"j2k_psnr": [80]}
    max_abs_error = 64
    decode_error_match = "Unable to decode"


class TestRLELossless(CodecConformance):
    codec_name = "rle_lossless"
    decode_error_match = "Unable to decode"


class TestDeflatedImageFrame(CodecConformance):
    codec_name = "deflated_image_frame"
