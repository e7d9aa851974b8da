"""ACME Gradient-Deflate Lossless for pydicom, as a medcodec plugin."""

__version__ = "1.0.0"
