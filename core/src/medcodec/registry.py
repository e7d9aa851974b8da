"""What a codec is, what a compression request asks for, and what an encode reports.

These are plain data: the hook specifications pass them around, the pydicom bridge wires a :class:`CodecSpec`
into pydicom, and the policy and metadata hooks read them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from medcodec.errors import CodecConflictError, UnknownCodecError

#: The project's private UID root (2.25 + a UUID generated once, as an integer).
MEDCODEC_UID_ROOT = "2.25.68667338034845433904652776429924625335"

#: (0028,2114) Lossy Image Compression Method for medcodec's own lossy codecs (documented in docs/user/policy.md).
PRIVATE_LOSSY_METHOD_PREFIX = "MEDCODEC_"


SUBSAMPLED_PHOTOMETRIC = frozenset({"YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420"})


def image_kind(ds: Any) -> dict[str, Any]:
    """The image attributes :meth:`CodecSpec.supports` takes, read from a dataset."""
    return {
        "bits_stored": int(ds.get("BitsStored", 8)),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "signed": int(ds.get("PixelRepresentation", 0)) == 1,
        "bits_allocated": int(ds.get("BitsAllocated", 16)),
        "photometric": _native_photometric(ds),
    }


def _native_photometric(ds: Any) -> str:
    """The PhotometricInterpretation the pixels will have once decoded (JPEG's YBR_FULL_422 decodes as RGB)."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        compressed = syntax is not None and syntax.is_compressed
    except ValueError:  # an unregistered private syntax
        compressed = True
    return "RGB" if compressed and photometric in SUBSAMPLED_PHOTOMETRIC else photometric


@dataclass(frozen=True)
class CodecSpec:
    """One codec: a transfer syntax and the pydicom plugin module that encodes and decodes its frames.

    :param name: lowercase snake_case name users pass to ``--codec`` (``mic``, ``jpeg_ls_lossless``).
    :param transfer_syntax: the Transfer Syntax UID (public or private) as a string.
    :param lossless: True when every encode is bit-exact. A syntax that may be either (HTJ2K .203,
        JPEG 2000 .91) is registered as lossy; the report of one encode says whether it actually lost data.
    :param adapter: import path of a module following pydicom's plugin contract (``is_available``,
        ``DECODER_DEPENDENCIES``, ``ENCODER_DEPENDENCIES``, ``decode_frame``, ``encode_frame``), or None when
        pydicom's own plugins already handle this syntax (the codec is then only indexed for policy/metadata).
    :param distribution: the distribution to ``pip install`` for this codec.
    :param bits_stored: the BitsStored values the encoder accepts.
    :param samples_per_pixel: the SamplesPerPixel values the encoder accepts.
    :param signed: whether PixelRepresentation 1 is accepted by the encoder.
    :param lossy_method: the (0028,2114) value written after a lossy encode.
    :param prefer: wire the adapter *before* pydicom's built-in plugins for this syntax.
    :param exclusive_encoder: remove every other encoder plugin for this syntax (used to guard a known trap
        so that pydicom's fallback loop cannot bypass the guard).
    :param decoder: the adapter provides ``decode_frame`` (False for an encode-only adapter).
    :param encoder: the adapter provides ``encode_frame``.
    :param keyword: pydicom-style keyword of the UID (``MICLossless``); used for its name in pydicom.
    :param uid_name: human readable name of a private UID.
    :param options: documented encoding options, name -> one-line description.
    :param default_options: options used when the caller gives none (a lossy codec's default quality).
    :param colour_photometric: PhotometricInterpretation to declare for RGB input when the codec applies its own
        reversible/irreversible colour transform (JPEG 2000 family: ``YBR_RCT`` / ``YBR_ICT``, as DICOM requires).
    :param thread_safe: the adapter's frame functions may run on several threads at once (they release the GIL
        and share no state). Only then are the frames of one dataset coded in parallel: pylibjpeg-openjpeg,
        for one, crashes the interpreter when two threads decode at once (measured here).
    """

    name: str
    transfer_syntax: str
    lossless: bool
    adapter: str | None
    distribution: str
    description: str = ""
    bits_stored: tuple[int, ...] = tuple(range(1, 17))
    samples_per_pixel: tuple[int, ...] = (1, 3)
    signed: bool = True
    lossy_method: str | None = None
    prefer: bool = False
    exclusive_encoder: bool = False
    decoder: bool = True
    encoder: bool = True
    keyword: str = ""
    uid_name: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    default_options: Mapping[str, Any] = field(default_factory=dict)
    colour_photometric: str | None = None
    thread_safe: bool = False

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or not self.name.replace("_", "").isalnum():
            raise ValueError(f"Codec name '{self.name}' must be lowercase snake_case")
        if not self.transfer_syntax or any(c not in "0123456789." for c in self.transfer_syntax):
            raise ValueError(f"Codec '{self.name}': '{self.transfer_syntax}' is not a UID")
        if len(self.transfer_syntax) > 64:
            raise ValueError(f"Codec '{self.name}': UID '{self.transfer_syntax}' is longer than 64 characters")
        if not self.lossless and not self.lossy_method:
            raise ValueError(f"Lossy codec '{self.name}' must declare lossy_method for (0028,2114)")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "default_options", MappingProxyType(dict(self.default_options)))

    @property
    def label(self) -> str:
        """The pydicom plugin label: what users pass as ``encoding_plugin=`` / ``decoding_plugin=``."""
        return f"medcodec.{self.name}"

    @property
    def is_private(self) -> bool:
        return not self.transfer_syntax.startswith("1.2.840.10008.")

    def supports(self, *, bits_stored: int, samples_per_pixel: int, signed: bool, bits_allocated: int = 16,
                 photometric: str = "MONOCHROME2") -> str | None:
        """Return None when the encoder accepts an image of this kind, else the reason it does not."""
        if not self.encoder:
            return "it has no encoder"
        if bits_allocated not in (8, 16):
            return f"BitsAllocated {bits_allocated} is not supported (8 or 16)"
        if not self.lossless and photometric == "PALETTE COLOR":
            return "lossy compression of PALETTE COLOR indices would change the colours"
        if photometric in SUBSAMPLED_PHOTOMETRIC:
            return (f"native {photometric} (chroma-subsampled) pixel data cannot be re-encoded without "
                    "changing it; convert it to RGB or YBR_FULL first")
        if bits_stored not in self.bits_stored:
            lo, hi = min(self.bits_stored), max(self.bits_stored)
            return f"BitsStored {bits_stored} is not supported (supported: {lo}-{hi})"
        if samples_per_pixel not in self.samples_per_pixel:
            return (
                f"SamplesPerPixel {samples_per_pixel} is not supported "
                f"(supported: {', '.join(map(str, self.samples_per_pixel))})"
            )
        if signed and not self.signed:
            return "signed pixel data (PixelRepresentation 1) is not supported"
        return None


class Register(Protocol):
    """The callable passed to ``medcodec_register_codecs``; validates and records one spec."""

    def __call__(self, spec: CodecSpec) -> None: ...


@dataclass(frozen=True)
class CompressionRequest:
    """What the caller asks for; the policy turns it into a :class:`CodecChoice` or a refusal.

    :param codec: an explicit codec name, or None to let the policy choose.
    :param profile: ``diagnostic`` (lossless), ``viewing`` (visually lossless lossy) or ``thumbnail``.
    :param options: encoding options given by the caller (forwarded to the codec).
    :param calling_ae: the AE title a network request came from, if any.
    :param accepted_transfer_syntaxes: what the receiving side accepts (None: anything medcodec can decode).
    :param allow_lossy_recompression: permit a lossy encode of data that is already lossy.
    :param max_abs_error: a lossy result is rejected if any sample differs by more than this.
    :param min_psnr: a lossy result is rejected if its PSNR (dB, peak = the image's dynamic range) is lower.
    :param min_ssim: a lossy result is rejected if its (8x8 block) SSIM is lower.
    :param source: a file name or instance label used in error messages.
    """

    codec: str | None = None
    profile: str = "diagnostic"
    options: Mapping[str, Any] = field(default_factory=dict)
    calling_ae: str | None = None
    accepted_transfer_syntaxes: frozenset[str] | None = None
    allow_lossy_recompression: bool = False
    max_abs_error: float | None = None
    min_psnr: float | None = None
    min_ssim: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class CodecChoice:
    """A policy's answer: which codec, with which options, and the rule that decided."""

    codec: str
    options: Mapping[str, Any] = field(default_factory=dict)
    rule: str = "explicit"
    reason: str = ""


@dataclass(frozen=True)
class Refusal:
    """A policy's refusal: the rule and a sentence saying why (becomes :class:`PolicyRefusedError`)."""

    rule: str
    reason: str


@dataclass
class EncodeReport:
    """What one compression did; the metadata hooks and the audit trail read it."""

    codec: str
    transfer_syntax: str
    source_transfer_syntax: str
    original_bytes: int
    compressed_bytes: int
    lossy: bool
    milliseconds: float = 0.0
    max_abs_error: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    verified: bool = False
    old_sop_instance_uid: str | None = None
    new_sop_instance_uid: str | None = None
    rule: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.original_bytes / self.compressed_bytes if self.compressed_bytes else float("inf")


class CodecIndex:
    """Codecs by name and by transfer syntax. Thread-safe; duplicates raise :class:`CodecConflictError`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, CodecSpec] = {}
        self._by_uid: dict[str, CodecSpec] = {}
        self._owner: dict[str, str] = {}

    def add(self, spec: CodecSpec, owner: str) -> None:
        with self._lock:
            if spec.name in self._by_name:
                raise CodecConflictError("name", spec.name, self._owner[spec.name], owner)
            if spec.transfer_syntax in self._by_uid:
                other = self._by_uid[spec.transfer_syntax]
                raise CodecConflictError(
                    "transfer syntax", spec.transfer_syntax, self._owner[other.name], owner
                )
            self._by_name[spec.name] = spec
            self._by_uid[spec.transfer_syntax] = spec
            self._owner[spec.name] = owner

    def copy(self) -> CodecIndex:
        clone = CodecIndex()
        with self._lock:
            clone._by_name, clone._by_uid, clone._owner = dict(self._by_name), dict(self._by_uid), dict(self._owner)
        return clone

    def get(self, name_or_uid: str) -> CodecSpec:
        spec = self._by_name.get(name_or_uid) or self._by_uid.get(str(name_or_uid))
        if spec is None:
            raise UnknownCodecError(name_or_uid, self._by_name)
        return spec

    def find_by_name(self, name: str) -> CodecSpec | None:
        return self._by_name.get(name)

    def find_uid(self, uid: str) -> CodecSpec | None:
        return self._by_uid.get(str(uid))

    def owner(self, name: str) -> str:
        return self._owner[name]

    def __iter__(self) -> Iterator[CodecSpec]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)


def unique(items: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication (for fallback chains)."""
    return list(dict.fromkeys(items))
