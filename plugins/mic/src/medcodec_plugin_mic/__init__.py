"""MIC lossless codec for medcodec (stream-compatible with the reference implementation)."""

__version__ = "0.1.0"
