"""The storage gateway: a C-STORE/C-ECHO SCP that compresses by policy, verifies, keeps and forwards.

For every instance received:

1. the compression policy runs (:func:`medcodec.pipeline.compress`: policy, encode, verify, metadata), told what
   the destination accepts for that SOP class when it is known (learned from real associations);
2. a codec failure or a policy refusal keeps the original bytes unchanged (logged with UIDs only);
3. the result is written, fsync'd, to the forward queue (and to ``--store`` if given), and only then does the
   sender get Success (0x0000); if that write fails the sender gets 0xA700 (Out of Resources);
4. a worker thread forwards the queue to the destination, one transfer syntax per presentation context,
   transcoding along the fallback chain when the peer refused ours, and retries with back-off while it is down.

Optional storage commitment: with ``storage_commitment=True`` a forwarded instance stays in ``committing/``
until the destination confirms it with an N-EVENT-REPORT (sent on a new association to this gateway).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from medcodec.pacs.forward_queue import ForwardQueue, Item, QueueWorker, atomic_write
from medcodec.pacs.isolation import CodecPool, Job
from medcodec.pacs.negotiation import (
    DEFAULT_CHAIN,
    STORAGE_COMMITMENT_SOP_CLASS,
    AssociationFailed,
    CapabilityCache,
    Forwarder,
    Peer,
    resolve_chain,
)

if TYPE_CHECKING:
    from pydicom import Dataset

log = logging.getLogger("medcodec.pacs")

#: Seconds without probing a destination that could not be reached.
PROBE_BACKOFF = 30.0
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


@dataclass
class GatewayConfig:
    """Everything ``medcodec gateway`` takes on its command line.

    :param spool: folder of the forward queue and the peer capability cache (must survive restarts).
    :param store: optional folder keeping a copy of every instance as forwarded
        (``<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``).
    :param profile: the policy profile (``diagnostic`` is lossless; MG is always lossless).
    :param compress: False forwards what was received (still negotiated and transcoded if refused).
    :param chain: fallback chain: codec names or native transfer syntax UIDs, best first.
    :param workers: codec worker processes (0: in-process, one instance at a time); see
        :mod:`medcodec.pacs.isolation`.
    :param forward_associations: concurrent associations to the destination (one forward thread each).
    :param codec_timeout: seconds one instance may take to compress before the original is kept.
    :param policy: policy file or preset the worker processes load (the parent's is set by the caller).
    """

    listen_port: int
    spool: Path
    forward: Peer | None = None
    listen_host: str = "127.0.0.1"
    ae_title: str = "MEDCODEC"
    store: Path | None = None
    profile: str = "diagnostic"
    compress: bool = True
    chain: Sequence[str] = DEFAULT_CHAIN
    retry_base: float = 1.0
    retry_max: float = 60.0
    max_attempts: int | None = None
    batch: int = 32
    storage_commitment: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    workers: int = 0
    forward_associations: int = 2
    codec_timeout: float = 120.0
    policy: str | None = None


class Gateway:
    """``Gateway(config).start()`` serves in background threads; :meth:`stop` shuts everything down."""

    def __init__(self, config: GatewayConfig) -> None:
        from medcodec._plugins import install

        install()
        if config.forward is None and config.store is None:
            raise ValueError("The gateway needs a destination (forward) or a local store (store): otherwise "
                             "it would answer Success for instances it keeps nowhere.")
        self.config = config
        config.spool.mkdir(parents=True, exist_ok=True)
        self.queue = ForwardQueue(config.spool / "queue", base_delay=config.retry_base,
                                  max_delay=config.retry_max, max_attempts=config.max_attempts)
        self.cache = CapabilityCache(config.spool / "capabilities.json")
        self.chain = resolve_chain(config.chain)
        from medcodec import list_codecs

        codecs = [spec.transfer_syntax for spec in list_codecs()]
        self.forwarder = (Forwarder(config.forward, config.ae_title, self.chain, self.cache, extra=codecs)
                          if config.forward else None)
        self._probe_lock = threading.Lock()
        self._probe_after = 0.0
        self.pool = CodecPool(config.workers, timeout=config.codec_timeout, policy=config.policy)
        self._server: Any = None
        self._workers: list[QueueWorker] = []
        self.received = 0
        self.codec_failures = 0
        self.committed = 0

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> Gateway:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        from medcodec import list_codecs
        from medcodec._pydicom import transfer_syntax

        syntaxes = acceptor_preference([*ALL_TRANSFER_SYNTAXES,
                                        *(str(transfer_syntax(s.transfer_syntax)) for s in list_codecs())])
        ae = AE(ae_title=self.config.ae_title)
        ae.maximum_associations = 32
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(str(cx.abstract_syntax), syntaxes)
        ae.add_supported_context(Verification)
        ae.add_supported_context(STORAGE_COMMITMENT_SOP_CLASS, scu_role=True, scp_role=True)
        handlers: list[Any] = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda event: SUCCESS),
                    (evt.EVT_N_EVENT_REPORT, self._on_event_report)]
        self._server = ae.start_server((self.config.listen_host, self.config.listen_port), block=False,
                                       evt_handlers=handlers)
        if self.forwarder is not None:
            on_stored = self._request_commitment if self.config.storage_commitment else None
            self._workers = [QueueWorker(self.queue, self._send, batch=self.config.batch, on_stored=on_stored,
                                         name=f"medcodec-forward-{i}")
                             for i in range(max(1, self.config.forward_associations))]
            for worker in self._workers:
                worker.start()
        log.info("gateway %s listening on %s:%d, forwarding to %s", self.config.ae_title,
                 self.config.listen_host, self.config.listen_port, self.config.forward or "(nowhere)")
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self.config.listen_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        for worker in self._workers:
            worker.stop()
        self._workers = []
        self.pool.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- receiving ------------------------------------------------------------------------------------
    def _on_store(self, event: Any) -> int:
        try:
            raw = event.encoded_dataset(include_meta=True)
        except Exception as exc:  # noqa: BLE001 - answer the sender with a failure status, never crash
            log.error("could not read a received dataset: %s", exc)
            return CANNOT_UNDERSTAND
        calling = str(getattr(event.assoc.requestor, "ae_title", "") or "").strip()
        try:
            data, uid = self.process(raw, calling_ae=calling)
        except Exception as exc:  # noqa: BLE001 - the original bytes are kept below
            log.error("processing a received instance failed (%s); keeping it unchanged", exc)
            data, uid = raw, str(getattr(event.request, "AffectedSOPInstanceUID", "") or "unknown")
        try:
            self.keep(data, uid)
        except Exception as exc:  # noqa: BLE001 - the sender must not hear Success
            log.error("SOP Instance %s could not be written to the queue: %s", uid, exc)
            return OUT_OF_RESOURCES
        self.received += 1
        return SUCCESS

    def process(self, raw: bytes, *, calling_ae: str | None = None) -> tuple[bytes, str]:
        """Apply the policy to one received Part 10 file; returns (bytes to keep and forward, SOP UID).

        Never raises for a codec failure or a refusal: the original bytes come back unchanged.
        """
        from pydicom import dcmread

        meta = dcmread(BytesIO(raw), stop_before_pixels=True)
        uid = str(meta.SOPInstanceUID)
        if not self.config.compress:
            return raw, uid
        job = Job(raw, self.config.profile, dict(self.config.options), calling_ae or None,
                  self._accepted(str(meta.SOPClassUID)))
        outcome = self.pool.run(job)
        if outcome.kind == "failed":
            self.codec_failures += 1
            log.warning("SOP Instance %s: %s", uid, outcome.message)
        else:
            log.info("SOP Instance %s: %s", uid, outcome.message)
        if outcome.data is None:
            return raw, uid
        return outcome.data, outcome.sop_instance_uid

    def keep(self, data: bytes, uid: str) -> None:
        """Durably store (optional) and enqueue one instance."""
        if self.config.store is not None:
            from pydicom import dcmread

            ds = dcmread(BytesIO(data), stop_before_pixels=True)
            folder = self.config.store / str(ds.StudyInstanceUID) / str(ds.SeriesInstanceUID)
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / f"{uid}.dcm", data)
        if self.forwarder is not None:
            self.queue.put(data, uid)

    def _accepted(self, sop_class: str) -> frozenset[str] | None:
        """What the destination accepts for ``sop_class`` (probing once if unknown; None if unreachable)."""
        if self.forwarder is None:
            return None
        accepted = self.forwarder.accepted(sop_class)
        if accepted is None:
            with self._probe_lock:
                accepted = self.forwarder.accepted(sop_class)
                if accepted is None and time.monotonic() >= self._probe_after:
                    try:
                        self.forwarder.probe([sop_class])
                    except (AssociationFailed, OSError) as exc:
                        self._probe_after = time.monotonic() + PROBE_BACKOFF  # the peer is down: don't
                        log.info("could not ask %s what it accepts (%s); compressing without that",
                                 self.forwarder.peer, exc)  # stall every instance on a probe
                    accepted = self.forwarder.accepted(sop_class)
        return accepted

    # --- forwarding -----------------------------------------------------------------------------------
    def _send(self, items: list[Item]) -> list[tuple[str | None, bool]]:
        from pydicom import dcmread

        assert self.forwarder is not None
        datasets: list[Dataset | None] = []
        outcomes: list[tuple[str | None, bool]] = []
        for item in items:
            try:
                datasets.append(dcmread(item.path))
            except Exception as exc:  # noqa: BLE001 - an unreadable file is kept in failed/, never deleted
                datasets.append(None)
                log.error("queued file %s cannot be read: %s", item.path.name, exc)
        readable = [ds for ds in datasets if ds is not None]
        try:
            with self.pool.in_process_guard():  # transcoding may run codecs in this process
                results = iter(self.forwarder.send(readable)) if readable else iter(())
        except AssociationFailed as exc:
            raise ConnectionError(str(exc)) from exc
        for ds in datasets:
            if ds is None:
                outcomes.append(("the queued file cannot be read as DICOM", True))
                continue
            result = next(results)
            outcomes.append((result.error, result.permanent))
        return outcomes

    def _request_commitment(self, items: list[Item]) -> None:
        """Ask the destination to commit what was just stored; keep the files until it answers."""
        from pydicom import Dataset, dcmread
        from pydicom.uid import generate_uid

        assert self.forwarder is not None
        request = Dataset()
        request.TransactionUID = generate_uid()
        refs = []
        for item in items:
            meta = dcmread(item.path, stop_before_pixels=True)
            ref = Dataset()
            ref.ReferencedSOPClassUID = meta.SOPClassUID
            ref.ReferencedSOPInstanceUID = meta.SOPInstanceUID
            refs.append(ref)
        request.ReferencedSOPSequence = refs
        for item in items:
            self.queue.await_commitment(item, str(request.TransactionUID))
        try:
            self.forwarder.request_commitment(request)
        except Exception as exc:  # noqa: BLE001 - the files stay in committing/ and are re-sent below
            log.warning("storage commitment request %s failed (%s); the instances will be sent again",
                        request.TransactionUID, exc)
            self.queue.requeue_uncommitted([str(r.ReferencedSOPInstanceUID) for r in refs],
                                           f"storage commitment request failed: {exc}")

    def _on_event_report(self, event: Any) -> tuple[int, None]:
        """N-EVENT-REPORT from the destination: purge committed instances, re-queue the failed ones."""
        report = event.event_information
        committed = [str(r.ReferencedSOPInstanceUID) for r in report.get("ReferencedSOPSequence", [])]
        failed = [str(r.ReferencedSOPInstanceUID) for r in report.get("FailedSOPSequence", [])]
        purged = self.queue.committed(committed)
        self.committed += purged
        if failed:
            self.queue.requeue_uncommitted(failed, "the destination did not commit it")
        log.info("storage commitment %s: %d committed (%d purged), %d failed",
                 report.get("TransactionUID", "?"), len(committed), purged, len(failed))
        return SUCCESS, None

    def status(self) -> dict[str, Any]:
        """Counters (call before :meth:`stop` for the forwarded count)."""
        return {"received": self.received, "codec_failures": self.codec_failures,
                "committed": self.committed, "codec_worker_crashes": self.pool.crashes, "codec_timeouts": self.pool.timeouts,
                "forwarded": sum(w.sent for w in self._workers), "queue": self.queue.counts()}


#: Lossless encapsulated syntaxes besides those of lossless codecs (JPEG lossless processes 14, RLE, deflate).
_LOSSLESS_COMPRESSED = {"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
                        "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                        "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1"}
_NATIVE = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2")


def acceptor_preference(syntaxes: Sequence[str]) -> list[str]:
    """Order the syntaxes this SCP accepts: lossless compressed, then native, then lossy.

    pynetdicom (like Orthanc) accepts, per context, the first of *its own* syntaxes that the sender proposed.
    Lossless compressed first means a sender holding a JPEG 2000 or RLE file never has to decompress it (DCMTK
    storescu cannot); lossy syntaxes last means a sender holding native data is never asked to lose any.
    """
    from medcodec import list_codecs

    lossless = _LOSSLESS_COMPRESSED | {s.transfer_syntax for s in list_codecs() if s.lossless}
    unique = list(dict.fromkeys(str(s) for s in syntaxes))
    first = [s for s in unique if s in lossless]
    native = [s for s in _NATIVE if s in unique]
    return first + native + [s for s in unique if s not in lossless and s not in _NATIVE]
