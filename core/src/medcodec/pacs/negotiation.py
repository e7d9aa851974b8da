"""Outbound negotiation: what to propose to a peer, what it accepted, and how to make an instance fit.

Real PACSs answer a presentation context that lists several transfer syntaxes with *their* favourite (Orthanc
1.10 picks uncompressed), so every proposal here carries exactly one transfer syntax per context. What a peer
accepted is learned from each association and cached per (peer, SOP class) in a JSON file, so the compression
policy can be told which syntaxes the receiver takes (``CompressionRequest.accepted_transfer_syntaxes``).

When an instance's syntax was not accepted, :func:`fit` transcodes it to the first accepted entry of the
fallback chain (codec names or transfer syntax UIDs, e.g. ``htj2k_lossless_rpcl, jpeg2000_lossless,
jpeg_ls_lossless, 1.2.840.10008.1.2.1``) through :func:`medcodec.pipeline.compress`, which verifies every encode.
An instance is only ever sent over a context the peer accepted with exactly its transfer syntax, so a private
or HTJ2K syntax never reaches a peer that did not accept it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcodec.errors import MedcodecError

if TYPE_CHECKING:
    from pydicom import Dataset

log = logging.getLogger("medcodec.pacs")

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
NATIVE_SYNTAXES = (EXPLICIT_VR_LE, IMPLICIT_VR_LE)
#: pynetdicom (and the standard) allow at most 128 presentation contexts per association.
MAX_CONTEXTS = 128
#: Default fallback chain: the HTJ2K names are skipped when the htj2k plugin is not installed.
DEFAULT_CHAIN = ("htj2k_lossless_rpcl", "htj2k_lossless", "jpeg2000_lossless", "jpeg_ls_lossless",
                 "rle_lossless", EXPLICIT_VR_LE, IMPLICIT_VR_LE)
#: C-STORE statuses that mean "stored" (success and the three warnings of PS3.4 B.2.3).
STORED_STATUSES = frozenset({0x0000, 0xB000, 0xB006, 0xB007})
STORAGE_COMMITMENT_SOP_CLASS = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"


class NegotiationError(MedcodecError):
    """An instance cannot be sent to a peer in any transfer syntax the peer accepted."""


@dataclass(frozen=True)
class Peer:
    """A DICOM application entity: ``Peer.parse("ORTHANC@127.0.0.1:4242")``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Peer:
        try:
            ae_title, address = text.split("@", 1)
            host, port = address.rsplit(":", 1)
            peer = cls(ae_title.strip(), host.strip(), int(port))
        except ValueError:
            raise ValueError(f"'{text}' is not a peer address; write it as AE@HOST:PORT, "
                             "e.g. ORTHANC@127.0.0.1:4242") from None
        if not peer.ae_title or len(peer.ae_title) > 16:
            raise ValueError(f"'{text}': the AE title must have 1 to 16 characters")
        return peer

    @property
    def key(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class ChainEntry:
    """One step of the fallback chain: a transfer syntax and the codec that produces it (None = native)."""

    transfer_syntax: str
    codec: str | None


def resolve_chain(chain: Iterable[str]) -> list[ChainEntry]:
    """Turn codec names / UIDs into chain entries; codecs that are not installed are left out (logged).

    Explicit VR Little Endian is always appended as the last resort.
    """
    from medcodec._plugins import codec_index, install
    from medcodec._pydicom import coder_status

    install()
    index = codec_index()
    entries: list[ChainEntry] = []
    for item in chain:
        item = item.strip()
        if not item:
            continue
        if item in NATIVE_SYNTAXES:
            entries.append(ChainEntry(item, None))
            continue
        spec = index.find_by_name(item) or index.find_uid(item)
        if spec is None:
            if item[0].isdigit():
                raise ValueError(f"Fallback chain entry '{item}' is neither a native transfer syntax "
                                 f"({', '.join(NATIVE_SYNTAXES)}) nor the UID of a registered codec")
            log.info("fallback chain: codec '%s' is not installed; skipped", item)
            continue
        available, missing = coder_status(spec)
        if not available:
            log.info("fallback chain: codec '%s' is not available (%s); skipped", item, "; ".join(missing))
            continue
        entries.append(ChainEntry(spec.transfer_syntax, spec.name))
    if EXPLICIT_VR_LE not in {e.transfer_syntax for e in entries}:
        entries.append(ChainEntry(EXPLICIT_VR_LE, None))
    return list({e.transfer_syntax: e for e in entries}.values())


class CapabilityCache:
    """What each peer accepted, per SOP class, learned from real associations; persisted as JSON."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, Any]]] = {}
        if path is not None and path.is_file():
            try:
                self._data = json.loads(path.read_text())
            except ValueError:
                log.warning("capability cache %s is not valid JSON; starting empty", path)

    def accepted(self, peer: Peer, sop_class: str) -> frozenset[str] | None:
        """The syntaxes ``peer`` accepted for ``sop_class``, or None if never asked."""
        with self._lock:
            entry = self._data.get(peer.key, {}).get(str(sop_class))
        return None if entry is None else frozenset(entry["accepted"])

    def known(self, peer: Peer, sop_class: str) -> bool:
        return self.accepted(peer, sop_class) is not None

    def learn(self, peer: Peer, proposed: Sequence[tuple[str, str]], accepted: Iterable[tuple[str, str]]) -> None:
        """Record an association's outcome: for each proposed SOP class, the syntaxes accepted and refused."""
        accepted_pairs = {(str(a), str(t)) for a, t in accepted}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            peer_data = self._data.setdefault(peer.key, {})
            for sop_class in dict.fromkeys(str(a) for a, _ in proposed):
                offered = [str(t) for a, t in proposed if str(a) == sop_class]
                ok = sorted(t for t in offered if (sop_class, t) in accepted_pairs)
                old = peer_data.get(sop_class, {"accepted": [], "refused": []})
                peer_data[sop_class] = {
                    "accepted": sorted((set(old["accepted"]) - set(offered)) | set(ok)),
                    "refused": sorted((set(old["refused"]) - set(ok)) | (set(offered) - set(ok))),
                    "learned": now,
                }
            self._save()

    def forget(self, peer: Peer) -> None:
        with self._lock:
            self._data.pop(peer.key, None)
            self._save()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dict(json.loads(json.dumps(self._data)))

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        tmp.replace(self.path)


def proposals(needed: Iterable[tuple[str, str]], chain: Sequence[ChainEntry],
              extra: Sequence[str] = ()) -> list[list[tuple[str, str]]]:
    """Presentation contexts for instances given as (SOP class, transfer syntax) pairs.

    Each SOP class gets one context per syntax: the instances' own syntaxes first, then every chain entry,
    then ``extra`` (the other registered codecs, so the policy learns whether the peer takes them), then both
    native syntaxes. The result is split into groups of at most :data:`MAX_CONTEXTS` contexts (one
    association each), never splitting a SOP class.
    """
    by_class: dict[str, list[str]] = {}
    for sop_class, ts in needed:
        by_class.setdefault(str(sop_class), []).append(str(ts))
    groups: list[list[tuple[str, str]]] = [[]]
    for sop_class, own in by_class.items():
        syntaxes = list(dict.fromkeys([*own, *(e.transfer_syntax for e in chain), *extra, *NATIVE_SYNTAXES]))
        contexts = [(sop_class, ts) for ts in syntaxes][:MAX_CONTEXTS]
        if len(groups[-1]) + len(contexts) > MAX_CONTEXTS:
            groups.append([])
        groups[-1].extend(contexts)
    return [g for g in groups if g]


def target_syntax(source_ts: str, accepted: frozenset[str], chain: Sequence[ChainEntry]) -> ChainEntry | None:
    """The syntax to send an instance in: its own if accepted, else the first accepted chain entry."""
    if source_ts in accepted:
        return ChainEntry(source_ts, None)
    for entry in chain:
        if entry.transfer_syntax in accepted:
            return entry
    return None


def fit(ds: Dataset, accepted: frozenset[str], chain: Sequence[ChainEntry], source: str = "") -> str | None:
    """Make ``ds`` use a transfer syntax in ``accepted``, transcoding along ``chain``; return the old syntax.

    Returns None when nothing had to change. Every chain step that fails is collected; if none succeeds a
    :class:`NegotiationError` lists all of them. The dataset is only changed by a successful step.
    """
    from medcodec.pipeline import compress
    from medcodec.registry import CompressionRequest

    source_ts = str(ds.file_meta.TransferSyntaxUID)
    if source_ts in accepted:
        return None
    failures: list[str] = []
    for entry in chain:
        if entry.transfer_syntax not in accepted:
            continue
        try:
            if entry.codec is None:
                _to_native(ds, entry.transfer_syntax)
            else:
                compress(ds, request=CompressionRequest(codec=entry.codec, source=source or None))
            return source_ts
        except Exception as exc:  # noqa: BLE001 - every failure is collected and reported below
            failures.append(f"{entry.codec or entry.transfer_syntax}: {exc}")
    refused = ", ".join(sorted(accepted)) or "nothing"
    detail = "; ".join(failures) if failures else "no chain entry is among them"
    raise NegotiationError(
        f"{source or 'instance'} in transfer syntax {_ts_name(source_ts)} cannot be sent: the peer accepted "
        f"only {refused} for its SOP class, and transcoding failed ({detail}). Add an accepted syntax to the "
        "fallback chain or configure the peer to accept one of ours."
    )


def _to_native(ds: Dataset, target: str) -> None:
    from pydicom.uid import UID

    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    ds.file_meta.TransferSyntaxUID = UID(target)


def _ts_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return f"'{name}' ({uid})" if name and name != uid else f"'{uid}'"


@dataclass
class SendResult:
    """The outcome of one instance: ``error`` is None when the peer stored it."""

    sop_instance_uid: str
    transfer_syntax: str = ""
    transcoded_from: str | None = None
    status: int | None = None
    error: str | None = None
    permanent: bool = False


class AssociationFailed(MedcodecError, ConnectionError):
    """The peer could not be reached or refused the association (retry later)."""


class Forwarder:
    """Sends datasets to one peer: one transfer syntax per context, learn what it accepts, fit, C-STORE.

    :param peer: the destination.
    :param calling_ae: our AE title.
    :param chain: the resolved fallback chain (:func:`resolve_chain`).
    :param cache: where accepted syntaxes are learned and remembered.
    :param extra: further syntaxes to propose (every registered codec's), learned but never transcoded to.
    """

    def __init__(self, peer: Peer, calling_ae: str, chain: Sequence[ChainEntry], cache: CapabilityCache,
                 *, timeout: float = 30.0, extra: Sequence[str] = ()) -> None:
        self.peer, self.calling_ae, self.chain, self.cache, self.timeout = peer, calling_ae, chain, cache, timeout
        self.extra = tuple(extra)

    def _ae(self) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = min(self.timeout, 10.0)
        return ae

    def _associate(self, contexts: list[tuple[str, str]]) -> Any:
        from pynetdicom import build_context

        ae = self._ae()
        assoc = ae.associate(self.peer.host, self.peer.port, ae_title=self.peer.ae_title,
                             contexts=[build_context(sop, ts) for sop, ts in contexts])
        if not assoc.is_established:
            raise AssociationFailed(f"Peer {self.peer} did not accept an association from "
                                    f"'{self.calling_ae}' (unreachable, or rejected; see the peer's log)")
        self.cache.learn(self.peer, contexts, [(cx.abstract_syntax, cx.transfer_syntax[0])
                                               for cx in assoc.accepted_contexts])
        return assoc

    def probe(self, sop_classes: Iterable[str]) -> None:
        """Learn what the peer accepts for these SOP classes (one association, released at once)."""
        for group in proposals([(sop, EXPLICIT_VR_LE) for sop in sop_classes], self.chain, self.extra):
            assoc = self._associate(group)
            assoc.release()

    def accepted(self, sop_class: str) -> frozenset[str] | None:
        return self.cache.accepted(self.peer, sop_class)

    def send(self, datasets: Sequence[Dataset]) -> list[SendResult]:
        """C-STORE every dataset (transcoding where needed); one result per dataset, in order.

        :raises AssociationFailed: when no association could be opened (nothing was sent).
        """
        needed = [(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets]
        results: list[SendResult | None] = [None] * len(datasets)
        for group in proposals(needed, self.chain, self.extra):
            classes = {sop for sop, _ in group}
            assoc = self._associate(group)
            try:
                for i, ds in enumerate(datasets):
                    if str(ds.SOPClassUID) in classes and results[i] is None:
                        results[i] = self._send_one(assoc, ds)
                        if not assoc.is_established:
                            break
            finally:
                if assoc.is_established:
                    assoc.release()
        return [r if r is not None else SendResult(str(ds.SOPInstanceUID),
                                                    error="the association ended before it was sent")
                for r, ds in zip(results, datasets, strict=True)]

    def _send_one(self, assoc: Any, ds: Dataset) -> SendResult:
        sop_class, uid = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
        accepted = frozenset(str(cx.transfer_syntax[0]) for cx in assoc.accepted_contexts
                             if str(cx.abstract_syntax) == sop_class)
        result = SendResult(uid)
        try:
            result.transcoded_from = fit(ds, accepted, self.chain, source=f"SOP Instance {uid}")
        except NegotiationError as exc:
            result.error, result.permanent = str(exc), not accepted
            return result
        ts = str(ds.file_meta.TransferSyntaxUID)
        result.transfer_syntax = ts
        if ts not in accepted:  # the invariant that keeps private syntaxes away from unaware peers
            raise AssertionError(f"refusing to send {uid} in {ts}: not accepted by {self.peer}")
        if result.transcoded_from:
            log.info("SOP Instance %s transcoded %s -> %s for %s", uid, result.transcoded_from, ts, self.peer)
        try:
            status = assoc.send_c_store(ds)
        except Exception as exc:  # noqa: BLE001 - reported per instance, retried by the queue
            result.error = f"C-STORE of {uid} to {self.peer} failed: {exc}"
            return result
        code = int(status.Status) if status is not None and "Status" in status else None
        result.status = code
        if code not in STORED_STATUSES:
            shown = "no response (association lost or timed out)" if code is None else f"status 0x{code:04X}"
            result.error = f"C-STORE of {uid} to {self.peer} failed: {shown}"
        return result

    def request_commitment(self, request: Dataset) -> None:
        """Send a Storage Commitment Push Model N-ACTION (the answer arrives later as an N-EVENT-REPORT)."""
        from pynetdicom import build_context

        ae = self._ae()
        assoc = ae.associate(self.peer.host, self.peer.port, ae_title=self.peer.ae_title,
                             contexts=[build_context(STORAGE_COMMITMENT_SOP_CLASS)])
        if not assoc.is_established:
            raise AssociationFailed(f"Peer {self.peer} refused a storage commitment association")
        try:
            status, _reply = assoc.send_n_action(request, 1, STORAGE_COMMITMENT_SOP_CLASS,
                                                 STORAGE_COMMITMENT_INSTANCE)
        finally:
            if assoc.is_established:
                assoc.release()
        code = int(status.Status) if status is not None and "Status" in status else None
        if code != 0:
            raise NegotiationError(f"Peer {self.peer} answered the storage commitment request with "
                                   f"{'no response' if code is None else f'status 0x{code:04X}'}")
