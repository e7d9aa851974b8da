"""Placeholder plugin for first-party codecs whose distribution is not installed.

pydicom then reports, in its own words, ``medcodec.mic - requires medcodec-plugin-mic``.
"""

from __future__ import annotations

from typing import Any

from medcodec._pydicom import FIRST_PARTY_CODECS

DECODER_DEPENDENCIES = {uid: (dist,) for _name, uid, dist, _kw, _uid_name in FIRST_PARTY_CODECS}
ENCODER_DEPENDENCIES = DECODER_DEPENDENCIES


def is_available(uid: str) -> bool:
    return False


def decode_frame(src: bytes, runner: Any) -> bytes:  # never called: is_available is False
    raise RuntimeError("placeholder codec called")


encode_frame = decode_frame
