"""The vendor runs medcodec's conformance kit against its own codec: one class, four lines."""

from medcodec.testing import CodecConformance


class TestAcmeConformance(CodecConformance):
    codec_name = "acme_delta_deflate"
