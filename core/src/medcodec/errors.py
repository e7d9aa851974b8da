"""The medcodec exception hierarchy.

Messages are full sentences: names in single quotes, a transfer syntax shown as name and value, then the fix.
Raw values are kept as attributes so callers never have to parse a message.
"""

from __future__ import annotations

from collections.abc import Iterable


class MedcodecError(Exception):
    """Base class: catch this to handle any medcodec failure."""


class MedcodecPluginWarning(UserWarning):
    """A third-party plugin could not be loaded; it is listed as 'error' and raises when used."""


class CodecUnavailableError(MedcodecError, RuntimeError):
    """The codec is known (usually a first-party placeholder) but its distribution is not installed."""

    def __init__(self, name: str, uid: str, distribution: str) -> None:
        self.name, self.uid, self.distribution = name, uid, distribution
        super().__init__(
            f"Codec '{name}' ({uid}) is not installed. Install it with: pip install {distribution}"
        )


class UnknownCodecError(MedcodecError, LookupError):
    """No codec is registered under that name or transfer syntax UID."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name, self.known = name, sorted(known)
        super().__init__(
            f"Unknown codec '{name}'. Registered codecs: {', '.join(self.known) or '(none)'}. "
            "Run 'medcodec plugins' to see what is installed."
        )

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class CodecConflictError(MedcodecError, ValueError):
    """Two plugins declared the same codec name or transfer syntax."""

    def __init__(self, what: str, value: str, first: str, second: str) -> None:
        self.what, self.value, self.first, self.second = what, value, first, second
        super().__init__(
            f"Codec {what} '{value}' is declared by both '{first}' and '{second}'. "
            "Uninstall one of the two distributions."
        )


class PluginLoadError(MedcodecError, ImportError):
    """An entry-point plugin failed to import (pytest's wording)."""

    def __init__(self, name: str, reason: str) -> None:
        self.plugin_name = name
        super().__init__(f'Error importing plugin "{name}": {reason}')


class UnsupportedImageError(MedcodecError, ValueError):
    """The codec cannot represent this image (bit depth, samples per pixel, sign, ...)."""

    def __init__(self, codec: str, uid: str, problem: str, source: str | None = None) -> None:
        self.codec, self.uid, self.problem, self.source = codec, uid, problem, source
        where = f"'{source}': " if source else ""
        super().__init__(f"{where}codec '{codec}' ({uid}) cannot encode this image: {problem}")


class _FrameError(MedcodecError, ValueError):
    verb = "process"

    def __init__(
        self,
        codec: str,
        uid: str,
        message: str,
        *,
        frame: int | None = None,
        source: str | None = None,
    ) -> None:
        self.codec, self.uid, self.message, self.frame, self.source = codec, uid, message, frame, source
        parts = []
        if source:
            parts.append(f"'{source}'")
        if frame is not None:
            parts.append(f"frame {frame}")
        where = (", ".join(parts) + ": ") if parts else ""
        super().__init__(f"{where}codec '{codec}' ({uid}) failed to {self.verb}: {message}")


class EncodeError(_FrameError):
    """A codec failed to encode a frame."""

    verb = "encode"


class DecodeError(_FrameError):
    """A codec failed to decode a frame (truncated, corrupted or foreign data)."""

    verb = "decode"


class PolicyRefusedError(MedcodecError, PermissionError):
    """The compression policy refused the request; ``rule`` names the rule that did."""

    def __init__(self, rule: str, reason: str, source: str | None = None) -> None:
        self.rule, self.reason, self.source = rule, reason, source
        where = f"'{source}': " if source else ""
        super().__init__(f"{where}compression refused by policy rule '{rule}': {reason}")


class VerificationError(MedcodecError, ValueError):
    """A result failed verification (not bit-exact, or outside its promised error bound)."""

    def __init__(self, codec: str, uid: str, problem: str, source: str | None = None) -> None:
        self.codec, self.uid, self.problem, self.source = codec, uid, problem, source
        where = f"'{source}': " if source else ""
        super().__init__(f"{where}verification of codec '{codec}' ({uid}) failed: {problem}")
