"""The pydicom bridge: the only module in medcodec that touches pydicom's private tables.

It does four things:

* registers private transfer syntaxes so pydicom knows their encoding (explicit VR little endian,
  encapsulated), and keeps that encoding alive on every ``UID("...")`` made from a plain string (file meta read
  by ``dcmread``, ``ds.compress("...")`` with a str, pynetdicom PDUs) -- see ``_UIDShim``;
* wires each codec's adapter module into pydicom's ``Decoder``/``Encoder`` objects, creating them for
  syntaxes pydicom has no coder for (the private ones and Deflated Image Frame Compression);
* registers "missing" placeholders for the first-party codecs, so a user without the plugin gets pydicom's own
  message naming the distribution to install;
* snapshots and restores all of the above, for tests.

Everything relies on pydicom 3.0's layout; ``check_pydicom_layout()`` fails loudly if an upgrade moves it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

import pydicom.uid as _uid_module
from pydicom import _uid_dict
from pydicom.pixels.decoders import base as _decoders
from pydicom.pixels.encoders import base as _encoders
from pydicom.uid import UID, PrivateTransferSyntaxes, register_transfer_syntax

from medcodec.errors import MedcodecError
from medcodec.registry import CodecSpec

SUPPORTED_PYDICOM = ((3, 0), (4, 0))  # [min, max)

#: First-party codecs that get a placeholder when their distribution is missing: name, UID, distribution,
#: keyword, human name.
FIRST_PARTY_CODECS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "mic",
        "2.25.68667338034845433904652776429924625335.1.1",
        "medcodec-plugin-mic",
        "MICLossless",
        "MIC Lossless (medcodec private)",
    ),
    (
        "mic_native",
        "2.25.68667338034845433904652776429924625335.1.2",
        "medcodec-plugin-mic",
        "MICNativeLossless",
        "MIC Native Lossless (medcodec private)",
    ),
    (
        "dct_teaching",
        "2.25.68667338034845433904652776429924625335.1.3",
        "medcodec-plugin-dct-teaching",
        "DCTTeaching",
        "DCT Teaching, lossy (medcodec private)",
    ),
)
PLACEHOLDER_ADAPTER = "medcodec.adapters.missing"

_lock = threading.RLock()
_wired: dict[str, CodecSpec] = {}  # label -> spec
_placeholders: set[str] = set()  # labels currently wired as placeholders


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor, *_ = (version.split(".") + ["0", "0"])[:3]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def check_pydicom_layout() -> None:
    """Raise :class:`MedcodecError` if pydicom no longer has what this bridge relies on."""
    installed = metadata.version("pydicom")  # pydicom.__version__ is unset while pydicom is still importing
    version = _version_tuple(installed)
    lo, hi = SUPPORTED_PYDICOM
    if not lo <= version < hi:
        raise MedcodecError(
            f"medcodec supports pydicom >= {lo[0]}.{lo[1]}, < {hi[0]}.{hi[1]}; found {installed}"
        )
    needed = {
        "pydicom.pixels.decoders.base._PIXEL_DATA_DECODERS": getattr(_decoders, "_PIXEL_DATA_DECODERS", None),
        "pydicom.pixels.encoders.base._PIXEL_DATA_ENCODERS": getattr(_encoders, "_PIXEL_DATA_ENCODERS", None),
        "pydicom._uid_dict.UID_dictionary": getattr(_uid_dict, "UID_dictionary", None),
        "pydicom.uid.PrivateTransferSyntaxes": getattr(_uid_module, "PrivateTransferSyntaxes", None),
    }
    missing = [name for name, value in needed.items() if not isinstance(value, dict | list)]
    coder = _decoders.Decoder(_uid_module.RLELossless)
    for attr in ("_available", "_unavailable", "add_plugin", "remove_plugin"):
        if not hasattr(coder, attr):
            missing.append(f"pydicom.pixels.common.CoderBase.{attr}")
    if "_PRIVATE_TS_ENCODING" not in getattr(UID, "__annotations__", {}):
        missing.append("pydicom.uid.UID._PRIVATE_TS_ENCODING")
    if missing:
        raise MedcodecError(
            f"pydicom {installed} no longer provides what medcodec's bridge relies on: "
            f"{', '.join(missing)}. Pin pydicom to a supported version or upgrade medcodec."
        )


class _UIDShim:
    """Re-attach the private encoding to every ``UID`` built from a plain string of a registered syntax.

    pydicom keeps a private syntax's encoding on one UID object (``_PRIVATE_TS_ENCODING``); a UID rebuilt from
    a string loses it, and then ``decompress()``, ``pixel_array(path)``, ``dcmwrite`` and pynetdicom fail with
    "UID is not a transfer syntax" or silently write implicit VR. The cost is one dict lookup per UID made.
    """

    encodings: ClassVar[dict[str, tuple[bool, bool]]] = {}
    _original_new: Any = None

    @classmethod
    def install(cls) -> None:
        if cls._original_new is not None:
            return
        original = UID.__new__
        encodings = cls.encodings

        def __new__(klass: type[UID], val: str, validation_mode: int | None = None) -> UID:
            uid = original(klass, val, validation_mode)
            encoding = encodings.get(uid)
            if encoding is not None and not hasattr(uid, "_PRIVATE_TS_ENCODING"):
                uid._PRIVATE_TS_ENCODING = encoding
            return uid

        cls._original_new = original
        UID.__new__ = staticmethod(__new__)  # type: ignore[assignment,method-assign]

    @classmethod
    def uninstall(cls) -> None:
        if cls._original_new is not None:
            UID.__new__ = cls._original_new  # type: ignore[method-assign]
            cls._original_new = None


def transfer_syntax(uid_str: str, *, name: str = "", keyword: str = "") -> UID:
    """Return a UID object for ``uid_str`` that pydicom treats as a transfer syntax (registering it if private)."""
    with _lock:
        _UIDShim.install()
        uid = UID(uid_str)
        if name and uid_str not in _uid_dict.UID_dictionary:
            # Gives private syntaxes a name, and makes a public syntax newer than this pydicom
            # (Deflated Image Frame Compression in 3.0) a transfer syntax at all.
            _uid_dict.UID_dictionary[uid_str] = (name, "Transfer Syntax", "", "", keyword)
        if uid.is_private:
            _UIDShim.encodings[uid_str] = (False, True)  # encapsulated data is always explicit VR LE
            if uid_str not in PrivateTransferSyntaxes:
                uid.set_private_encoding(False, True)
                register_transfer_syntax(uid)
            uid = UID(uid_str)
        return uid


def _coders(uid: UID, spec: CodecSpec | None = None) -> Iterator[tuple[Any, bool]]:
    """Yield (coder, is_decoder) for the tables a spec uses, creating coders pydicom lacks."""
    tables: tuple[tuple[dict[Any, Any], type[Any], bool], ...] = (
        (_decoders._PIXEL_DATA_DECODERS, _decoders.Decoder, True),
        (_encoders._PIXEL_DATA_ENCODERS, _encoders.Encoder, False),
    )
    for table, coder_cls, is_decoder in tables:
        if spec is not None and not (spec.decoder if is_decoder else spec.encoder):
            continue
        if uid not in table:
            table[uid] = (coder_cls(uid), "medcodec")
        yield table[uid][0], is_decoder


def _drop(coder: Any, label: str) -> None:
    if label in coder._available or label in coder._unavailable:
        coder.remove_plugin(label)


def wire(spec: CodecSpec) -> UID:
    """Make pydicom encode/decode ``spec.transfer_syntax`` with ``spec.adapter``. Idempotent and thread-safe."""
    with _lock:
        uid = transfer_syntax(spec.transfer_syntax, name=spec.uid_name, keyword=spec.keyword)
        if spec.adapter is None or _wired.get(spec.label) == spec:
            return uid
        for coder, is_decoder in _coders(uid, spec):
            _drop(coder, spec.label)  # a placeholder, or an older wiring of the same label
            func = "decode_frame" if is_decoder else "encode_frame"
            coder.add_plugin(spec.label, (spec.adapter, func))
            if spec.exclusive_encoder and not is_decoder:
                for other in [*coder._available, *coder._unavailable]:
                    if other != spec.label:
                        coder.remove_plugin(other)
            if spec.prefer and spec.label in coder._available:
                # pydicom tries plugins in insertion order; put ours first, keep the rest as fallbacks.
                ours = coder._available.pop(spec.label)
                coder._available = {spec.label: ours, **coder._available}
        _wired[spec.label] = spec
        _placeholders.discard(spec.label)
        return uid


def wire_placeholders(installed: set[str]) -> None:
    """Register 'requires <distribution>' placeholders for first-party codecs that are not installed."""
    with _lock:
        for name, uid_str, _dist, keyword, uid_name in FIRST_PARTY_CODECS:
            label = f"medcodec.{name}"
            if name in installed or label in _wired:
                continue
            uid = transfer_syntax(uid_str, name=uid_name, keyword=keyword)
            for coder, is_decoder in _coders(uid):
                if label not in coder._available and label not in coder._unavailable:
                    coder.add_plugin(label, (PLACEHOLDER_ADAPTER, "decode_frame" if is_decoder else "encode_frame"))
            _placeholders.add(label)


def coder_status(spec: CodecSpec) -> tuple[bool, list[str]]:
    """(available, missing): can pydicom decode -- and, for a codec with an encoder, encode -- its syntax now."""
    uid = UID(spec.transfer_syntax)
    missing: list[str] = []
    for table, is_decoder in ((_decoders._PIXEL_DATA_DECODERS, True), (_encoders._PIXEL_DATA_ENCODERS, False)):
        if not is_decoder and not spec.encoder:
            continue
        role = "decoder" if is_decoder else "encoder"
        if uid not in table:
            missing.append(f"no pydicom {role} for {spec.transfer_syntax}")
            continue
        coder = table[uid][0]
        ours = spec.adapter is not None and (spec.decoder if is_decoder else spec.encoder)
        if ours and spec.label not in coder._available:
            missing.extend(coder._unavailable.get(spec.label, (f"{spec.label} {role} is not wired",)))
        elif not ours and not coder.is_available:
            missing.extend(coder.missing_dependencies)
    return not missing, missing


def is_placeholder(label: str) -> bool:
    return label in _placeholders


@dataclass
class _Snapshot:
    decoders: dict[Any, Any]
    encoders: dict[Any, Any]
    plugins: dict[int, tuple[dict[str, Any], dict[str, Any]]]
    coders: list[Any]
    private: list[UID]
    uid_dict: dict[str, Any]
    encodings: dict[str, tuple[bool, bool]]
    wired: dict[str, CodecSpec]
    placeholders: set[str]


def snapshot() -> _Snapshot:
    coders = [c for table in (_decoders._PIXEL_DATA_DECODERS, _encoders._PIXEL_DATA_ENCODERS)
              for c, _ in table.values()]
    return _Snapshot(
        decoders=dict(_decoders._PIXEL_DATA_DECODERS),
        encoders=dict(_encoders._PIXEL_DATA_ENCODERS),
        plugins={id(c): (dict(c._available), dict(c._unavailable)) for c in coders},
        coders=coders,
        private=list(PrivateTransferSyntaxes),
        uid_dict=dict(_uid_dict.UID_dictionary),
        encodings=dict(_UIDShim.encodings),
        wired=dict(_wired),
        placeholders=set(_placeholders),
    )


def restore(snap: _Snapshot) -> None:
    with _lock:
        for table, saved in ((_decoders._PIXEL_DATA_DECODERS, snap.decoders),
                             (_encoders._PIXEL_DATA_ENCODERS, snap.encoders)):
            table.clear()
            table.update(saved)
        for coder in snap.coders:
            available, unavailable = snap.plugins[id(coder)]
            coder._available, coder._unavailable = dict(available), dict(unavailable)
        PrivateTransferSyntaxes[:] = snap.private
        _uid_dict.UID_dictionary.clear()
        _uid_dict.UID_dictionary.update(snap.uid_dict)
        _UIDShim.encodings.clear()
        _UIDShim.encodings.update(snap.encodings)
        _wired.clear()
        _wired.update(snap.wired)
        _placeholders.clear()
        _placeholders.update(snap.placeholders)


@contextmanager
def isolated() -> Iterator[None]:
    """Undo every registration made inside the block (llm's register/undo rule: always restore)."""
    snap = snapshot()
    try:
        yield
    finally:
        restore(snap)
