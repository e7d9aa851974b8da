"""medcodec: new pixel-data codecs, compression policy, verification and audit for pydicom 3.

Importing this package has no side effects. ``medcodec.install()`` (also run automatically by the start-up hook
the first time ``pydicom.pixels`` is imported) registers every installed codec with pydicom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medcodec._hookimpl import hookimpl
from medcodec.errors import (
    CodecConflictError,
    CodecUnavailableError,
    DecodeError,
    EncodeError,
    MedcodecError,
    MedcodecPluginWarning,
    PluginLoadError,
    PolicyRefusedError,
    UnknownCodecError,
    UnsupportedImageError,
    VerificationError,
)
from medcodec.registry import (
    MEDCODEC_UID_ROOT,
    CodecChoice,
    CodecSpec,
    CompressionRequest,
    EncodeReport,
    Refusal,
    Register,
)

if TYPE_CHECKING:
    from pydicom import Dataset

__version__ = "0.1.0"


def install() -> None:
    """Register every installed codec with pydicom (locked, idempotent)."""
    from medcodec._plugins import install as _install

    _install()


def get_codec(name_or_uid: str) -> CodecSpec:
    """The :class:`CodecSpec` registered under a codec name or transfer syntax UID."""
    from medcodec._plugins import codec_index

    return codec_index().get(name_or_uid)


def list_codecs() -> list[CodecSpec]:
    from medcodec._plugins import codec_index

    return sorted(codec_index(), key=lambda spec: spec.name)


def list_plugins() -> list[dict[str, Any]]:
    """What ``medcodec plugins --json`` prints: every plugin with its distribution, hooks and codecs."""
    from medcodec.cli import plugins_report

    return plugins_report()


def compress(ds: Dataset, codec: str | None = None, **kwargs: Any) -> EncodeReport:
    """Compress ``ds`` in place (policy, verification, metadata); see :func:`medcodec.pipeline.compress`."""
    from medcodec.pipeline import compress as _compress

    return _compress(ds, codec, **kwargs)


__all__ = [
    "MEDCODEC_UID_ROOT",
    "CodecChoice",
    "CodecConflictError",
    "CodecSpec",
    "CodecUnavailableError",
    "CompressionRequest",
    "DecodeError",
    "EncodeError",
    "EncodeReport",
    "MedcodecError",
    "MedcodecPluginWarning",
    "PluginLoadError",
    "PolicyRefusedError",
    "Refusal",
    "Register",
    "UnknownCodecError",
    "UnsupportedImageError",
    "VerificationError",
    "__version__",
    "compress",
    "get_codec",
    "hookimpl",
    "install",
    "list_codecs",
    "list_plugins",
]
