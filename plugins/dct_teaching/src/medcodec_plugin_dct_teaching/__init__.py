"""Teaching DCT codec (MMPC bitstream) for medcodec."""

__version__ = "0.1.0"
