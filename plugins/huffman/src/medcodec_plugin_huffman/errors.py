"""Errors of the Huffman file tool.

Every error is a :class:`medcodec.MedcodecError` (catch that to handle any medcodec failure) and a
:class:`ValueError`. Messages say what is wrong and what to do; :class:`PackedFileError` adds the file.
"""

from __future__ import annotations

from pathlib import Path

from medcodec.errors import MedcodecError


class HuffmanFormatError(MedcodecError, ValueError):
    """A packed blob is not valid: not a packed file, unknown version, damaged, or truncated."""


class NotPackedError(HuffmanFormatError):
    """The data does not start with the packed-file magic."""


class DamagedError(HuffmanFormatError):
    """The payload or its checksum does not match: the file was damaged after packing."""


class KeyRequiredError(HuffmanFormatError):
    """The file is encrypted and no key was given (or a key was given for a plain file)."""


class DecryptionError(HuffmanFormatError):
    """Authenticated decryption failed: wrong key, or the file was altered."""


class KeyFileError(MedcodecError, ValueError):
    """A key file is missing, unreadable or not in the expected format."""


class PackedFileError(MedcodecError, ValueError):
    """Packing or unpacking one file failed; names the file and keeps the cause in ``__cause__``."""

    def __init__(self, action: str, path: Path, reason: str) -> None:
        self.action, self.path, self.reason = action, path, reason
        super().__init__(f"Cannot {action} '{path}': {reason}")
