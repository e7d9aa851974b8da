"""MIC lossless codec for medcodec (stream-compatible with the reference implementation).

``decode_stream`` / ``encode_stream`` work on the reference's bare streams; the pydicom plugin
(``adapter.py``) wraps each frame in the small header defined in ``frame.py``. The codec names are
resolved lazily so that importing the entry point (``plugin.py``) never loads the native module.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["KINDS", "MicCodecError", "__version__", "decode_stream", "delta_rle_words", "encode_stream"]

_CODEC_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _CODEC_NAMES:
        from medcodec_plugin_mic import codec

        return getattr(codec, name)
    raise AttributeError(f"module 'medcodec_plugin_mic' has no attribute {name!r}")
