"""Archive recompression over Orthanc's REST API: resumable, verified, journaled, reversible.

For each instance (``/tools/find`` with the query, oldest Orthanc ID order):

1. download it and keep the original in ``<state>/originals/`` (fsync'd) -- journal ``saved``;
2. recompress it with :func:`medcodec.pipeline.compress` (policy, encode, verify, metadata), decode the written
   bytes once more and compare their pixels with the original's; keep the result in ``<state>/recompressed/``
   -- journal ``encoded``;
3. upload it; check that Orthanc returns exactly the uploaded bytes -- journal ``uploaded`` and a line in
   ``rollback.jsonl``;
4. only then delete the old instance if it has a different Orthanc ID (a lossy result has a new SOP Instance
   UID) -- journal ``done``.

A lossless result keeps its UIDs and therefore its Orthanc ID: with Orthanc's ``OverwriteInstances: true`` the
upload replaces the old instance in one step. With ``OverwriteInstances: false`` Orthanc answers
``AlreadyStored``; the old instance is then deleted and the new one uploaded, both files being on local disk and
the step journaled first, so a crash between the two is completed by the next run. (Orthanc's own
``/tools/bulk-modify`` with ``KeepSource: false`` deletes such instances outright; this never does.)

The journal (``journal.jsonl``) makes the job resumable after a kill at any point; ``audit.jsonl`` is the audit
trail (medcodec.audit records: UIDs, syntaxes, sizes, checksums -- no patient data); ``rollback.jsonl`` lists
what :func:`rollback` puts back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from medcodec.errors import MedcodecError, PolicyRefusedError
from medcodec.pacs.forward_queue import atomic_write
from medcodec.pacs.orthanc import OrthancClient

log = logging.getLogger("medcodec.pacs")

DONE_STEPS = frozenset({"done", "skipped"})


class RecompressError(MedcodecError):
    """One instance could not be recompressed safely (it was left unchanged in the archive)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Journal:
    """An append-only JSONL file of steps, fsync'd per line; the last step per Orthanc ID is its state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a killed run
                self.state.setdefault(record["id"], {}).update(record)

    def write(self, instance_id: str, step: str, **fields: Any) -> None:
        record = {"id": instance_id, "step": step, "time": time.time(), **fields}
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.state.setdefault(instance_id, {}).update(record)

    def step(self, instance_id: str) -> str | None:
        return self.state.get(instance_id, {}).get("step")

    def produced(self) -> set[str]:
        """Orthanc IDs created by this job (never recompressed again)."""
        return {r["new_id"] for r in self.state.values() if r.get("new_id")}


class Recompressor:
    """``Recompressor(client, state_dir, profile="diagnostic").run({"Modality": "CT"})``."""

    def __init__(self, client: OrthancClient, state_dir: Path, *, profile: str = "diagnostic",
                 codec: str | None = None, dry_run: bool = False, pause: float = 0.0) -> None:
        self.client, self.state_dir, self.profile, self.codec = client, state_dir, profile, codec
        self.dry_run, self.pause = dry_run, pause
        for sub in ("originals", "recompressed"):
            (state_dir / sub).mkdir(parents=True, exist_ok=True)
        self.journal = Journal(state_dir / "journal.jsonl")

    def run(self, query: Mapping[str, str] | None = None, *, limit: int | None = None) -> dict[str, Any]:
        from medcodec.audit import record_to

        started = time.perf_counter()
        summary: dict[str, Any] = {"instances": 0, "replaced": 0, "skipped": 0, "failed": 0, "dry_run": 0,
                                   "already_done": 0, "bytes_before": 0, "bytes_after": 0, "errors": []}
        produced = self.journal.produced()
        ids = [i for i in self.client.find_instances(query) if i not in produced] if query else \
            [i for i in sorted(self.client.instances()) if i not in produced]
        with record_to(self.state_dir / "audit.jsonl", fsync=True) as audit:
            for instance_id in ids[:limit] if limit is not None else ids:
                summary["instances"] += 1
                if self.journal.step(instance_id) in DONE_STEPS:
                    summary["already_done"] += 1
                    continue
                try:
                    outcome, before, after = self.one(instance_id, audit)
                except Exception as exc:  # noqa: BLE001 - recorded; the archive keeps the original
                    summary["failed"] += 1
                    summary["errors"].append(f"{instance_id}: {exc}")
                    log.error("instance %s left unchanged: %s", instance_id, exc)
                    if not self.dry_run:
                        self.journal.write(instance_id, "failed", error=str(exc))
                    audit.write({"operation": "pacs-recompress", "outcome": "failed", "error": str(exc)})
                    continue
                summary[outcome] += 1
                summary["bytes_before"] += before
                summary["bytes_after"] += after
                if self.pause:
                    time.sleep(self.pause)
        summary["seconds"] = round(time.perf_counter() - started, 3)
        summary["state"] = str(self.state_dir)
        return summary

    def one(self, instance_id: str, audit: Any) -> tuple[str, int, int]:
        """Recompress one instance; returns (summary key, bytes before, bytes after)."""
        from pydicom import dcmread

        from medcodec.audit import pixel_digest
        from medcodec.pipeline import choose, compress
        from medcodec.registry import CompressionRequest

        step = self.journal.step(instance_id)
        original_path = self.state_dir / "originals" / f"{instance_id}.dcm"
        new_path = self.state_dir / "recompressed" / f"{instance_id}.dcm"
        if step in (None, "failed") or not original_path.is_file():
            original = self.client.instance_file(instance_id)
            if not self.dry_run:
                atomic_write(original_path, original)
                self.journal.write(instance_id, "saved", original_sha256=_sha256(original))
            step = "saved"
        else:
            original = original_path.read_bytes()

        if step == "saved" or not new_path.is_file():
            ds = dcmread(BytesIO(original))
            uid, source_ts = str(ds.SOPInstanceUID), str(ds.file_meta.TransferSyntaxUID)
            request = CompressionRequest(codec=self.codec, profile=self.profile,
                                         source=f"Orthanc instance {instance_id}")
            try:
                spec, _ = choose(ds, request)
            except PolicyRefusedError as exc:
                return self._skip(instance_id, audit, uid, source_ts, f"policy: {exc.reason}", len(original))
            if spec.transfer_syntax == source_ts:
                return self._skip(instance_id, audit, uid, source_ts, "already in the target syntax",
                                  len(original))
            before_pixels = pixel_digest(ds.pixel_array)
            report = compress(ds, request=request)
            buffer = BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            data = buffer.getvalue()
            written = dcmread(BytesIO(data))
            after_pixels = pixel_digest(written.pixel_array)
            if not report.lossy and after_pixels != before_pixels:
                raise RecompressError(f"instance {instance_id}: the written file's pixels differ from the "
                                      "original's although the codec is lossless")
            fields = {"operation": "pacs-recompress", "old_sop_instance_uid": uid,
                      "new_sop_instance_uid": str(written.SOPInstanceUID), "source_transfer_syntax": source_ts,
                      "target_transfer_syntax": report.transfer_syntax, "codec": report.codec,
                      "lossy": report.lossy, "source_file_bytes": len(original), "output_file_bytes": len(data),
                      "original_pixel_sha256": before_pixels, "output_pixel_sha256": after_pixels}
            if self.dry_run:
                audit.write({**fields, "outcome": "dry-run"})
                return "dry_run", len(original), len(data)
            atomic_write(new_path, data)
            self.journal.write(instance_id, "encoded", new_sha256=_sha256(data),
                               new_sop_instance_uid=str(written.SOPInstanceUID))
            audit.write({**fields, "outcome": "encoded"})
        data = new_path.read_bytes()
        new_id = self._replace(instance_id, data)
        self.journal.write(instance_id, "done", new_id=new_id)
        record = self.journal.state[instance_id]
        audit.write({"operation": "pacs-recompress", "outcome": "replaced",
                     "new_sop_instance_uid": record.get("new_sop_instance_uid"), "output_file_bytes": len(data),
                     "source_file_bytes": len(original)})
        return "replaced", len(original), len(data)

    def _skip(self, instance_id: str, audit: Any, uid: str, ts: str, reason: str, size: int) -> tuple[str, int, int]:
        if not self.dry_run:
            self.journal.write(instance_id, "skipped", reason=reason)
        audit.write({"operation": "pacs-recompress", "outcome": "skipped", "old_sop_instance_uid": uid,
                     "source_transfer_syntax": ts, "error": reason})
        return "skipped", size, size

    def _replace(self, old_id: str, data: bytes) -> str:
        """Upload ``data``, check Orthanc kept it byte for byte, then delete ``old_id`` if it is another ID."""
        sha = _sha256(data)
        entry = self.journal.state.get(old_id, {})
        answer = self.client.upload(data)
        new_id = str(answer["ID"])
        if new_id == old_id and answer.get("Status") == "AlreadyStored" and self.client.sha256(new_id) != sha:
            # OverwriteInstances is false: delete, then upload (both files are on local disk, step journaled).
            self.journal.write(old_id, "deleting-old", new_sha256=sha)
            self.client.delete_instance(old_id)
            answer = self.client.upload(data)
            new_id = str(answer["ID"])
        stored_sha = self.client.sha256(new_id)
        if stored_sha != sha:
            raise RecompressError(f"Orthanc instance {new_id} does not hold the uploaded bytes "
                                  f"(sha256 {stored_sha[:12]} != {sha[:12]}); the original is kept in "
                                  f"{self.state_dir / 'originals'}")
        self.journal.write(old_id, "uploaded", new_id=new_id, new_sha256=sha)
        self._rollback_line(old_id, new_id, entry.get("original_sha256"), sha)
        if new_id != old_id:
            self.client.delete_instance(old_id)
        return new_id

    def _rollback_line(self, old_id: str, new_id: str, original_sha: str | None, new_sha: str) -> None:
        line = json.dumps({"old_id": old_id, "new_id": new_id, "original": f"originals/{old_id}.dcm",
                           "original_sha256": original_sha, "new_sha256": new_sha}, sort_keys=True) + "\n"
        with (self.state_dir / "rollback.jsonl").open("a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def rollback(client: OrthancClient, state_dir: Path) -> dict[str, Any]:
    """Put every original listed in ``rollback.jsonl`` back into Orthanc (newest first), verified by sha256."""
    path = state_dir / "rollback.jsonl"
    if not path.is_file():
        raise RecompressError(f"'{path}' does not exist: nothing to roll back")
    entries = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        entries[record["old_id"]] = record
    restored, errors = 0, []
    for record in reversed(list(entries.values())):
        original = (state_dir / record["original"]).read_bytes()
        sha = _sha256(original)
        try:
            answer = client.upload(original)
            if str(answer["ID"]) == record["new_id"] and client.sha256(record["new_id"]) != sha:
                client.delete_instance(record["new_id"])
                answer = client.upload(original)
            if client.sha256(str(answer["ID"])) != sha:
                raise RecompressError(f"Orthanc did not keep the original of {record['old_id']} byte for byte")
            if record["new_id"] != str(answer["ID"]):
                client.delete_instance(record["new_id"])
            restored += 1
        except MedcodecError as exc:
            errors.append(f"{record['old_id']}: {exc}")
    return {"restored": restored, "failed": len(errors), "errors": errors}
