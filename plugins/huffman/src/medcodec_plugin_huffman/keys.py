"""AES-256 key files for ``--encrypt``: one line of 64 hexadecimal digits, created with mode 0600.

A key file is a secret: whoever holds it can read every file packed with it. Share it with the recipient
out of band (never next to the packed files), and keep a copy: without it the data cannot be recovered.
"""

from __future__ import annotations

import binascii
from pathlib import Path

from medcodec_plugin_huffman import files
from medcodec_plugin_huffman.codec import KEY_SIZE
from medcodec_plugin_huffman.errors import KeyFileError


def generate_key_file(path: Path, *, force: bool = False) -> None:
    """Write a new random AES-256 key to ``path`` (refuses to replace an existing file unless ``force``)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = AESGCM.generate_key(bit_length=8 * KEY_SIZE)
    files.write_new_file(path, key.hex().encode("ascii") + b"\n", force=force, mode=0o600)


def load_key(path: Path) -> bytes:
    """Read a key file written by :func:`generate_key_file`."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"Cannot read key file '{path}': {exc}. Create one with 'medcodec huffman keygen'.") from exc
    try:
        key = binascii.unhexlify(text)
    except binascii.Error:
        key = b""
    if len(key) != KEY_SIZE:
        raise KeyFileError(
            f"Key file '{path}' does not hold a {8 * KEY_SIZE}-bit key ({2 * KEY_SIZE} hexadecimal digits). "
            "Create one with 'medcodec huffman keygen KEYFILE'."
        )
    return key
