"""The audit trail: one JSON line per instance, written safely by several processes at once.

Records hold UIDs, transfer syntaxes, codec names and versions, sizes, errors, quality figures, timings and
pixel checksums -- never names, file paths or other patient data. :func:`scrub` keeps only the documented keys,
so a field added upstream cannot leak into the file unnoticed.

Concurrency: each line is written with a single ``write(2)`` on a descriptor opened with ``O_APPEND`` while an
exclusive ``flock`` is held, so lines from several worker processes never interleave; a process killed with
``kill -9`` can at worst leave its own last line unfinished, which :func:`read_audit` reports and skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medcodec._hookimpl import hookimpl

#: Every key an audit line may carry (see docs/user/cli.md, "Audit trail").
AUDIT_KEYS = frozenset({
    "time", "outcome", "operation", "run_id", "attempt", "medcodec_version",
    "codec", "codec_distribution", "codec_version", "rule", "profile",
    "source_transfer_syntax", "target_transfer_syntax",
    "original_bytes", "compressed_bytes", "ratio", "source_file_bytes", "output_file_bytes",
    "lossy", "max_abs_error", "psnr", "ssim", "verified", "cross_check",
    "milliseconds", "old_sop_instance_uid", "new_sop_instance_uid", "sop_class_uid",
    "modality", "bits_stored", "samples_per_pixel", "frames",
    "original_pixel_sha256", "output_pixel_sha256", "error",
})


def pixel_digest(arr: np.ndarray) -> str:
    """SHA-256 of decoded pixel values (shape, dtype and little-endian bytes): equal iff the pixels are equal."""
    data = np.ascontiguousarray(arr)
    little = data.astype(data.dtype.newbyteorder("<"), copy=False)
    digest = hashlib.sha256(f"{little.dtype.str}{little.shape}".encode())
    digest.update(little.tobytes() if not little.flags.c_contiguous else little.data.cast("B"))
    return digest.hexdigest()


def scrub(record: Mapping[str, Any]) -> dict[str, Any]:
    """Only the documented, non-identifying keys of ``record``."""
    return {key: value for key, value in record.items() if key in AUDIT_KEYS}


class AuditLog:
    """Appends records to a JSONL file; safe across threads and processes (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own descriptor
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def write(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(scrub(record), sort_keys=True, allow_nan=False, default=str) + "\n").encode()
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = os.write(fd, line)
                if written != len(line):  # a regular file never short-writes unless the disk is full
                    raise OSError(f"audit file '{self.path}': short write ({written} of {len(line)} bytes)")
                if self.fsync:
                    os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


@dataclass
class AuditFile:
    """The parsed content of an audit file."""

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)

    def latest_by_output(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The last successful record per (output SOP Instance UID, target transfer syntax).

        A resumed run may record an instance twice (killed between its audit line and its rename); a lossless
        instance written in several syntaxes keeps its UID, hence the pair.
        """
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        # The archive writes a file's line just before its final rename; if the rename itself fails, a "failed"
        # line with the same attempt id follows and withdraws it.
        attempts: dict[str, tuple[str, str]] = {}
        for record in self.records:
            attempt = record.get("attempt")
            uid = record.get("new_sop_instance_uid")
            if uid and record.get("outcome") in SUCCESS_OUTCOMES:
                key = (str(uid), str(record.get("target_transfer_syntax")))
                latest[key] = record
                if attempt:
                    attempts[str(attempt)] = key
            elif record.get("outcome") == "failed" and attempt and str(attempt) in attempts:
                key = attempts.pop(str(attempt))
                if latest.get(key, {}).get("attempt") == attempt:
                    del latest[key]
        return latest


SUCCESS_OUTCOMES = frozenset({"compressed", "decompressed", "transcoded"})


def read_audit(path: str | os.PathLike[str]) -> AuditFile:
    """Read an audit file; lines that are not JSON objects (a torn last line) are listed in ``bad_lines``."""
    result = AuditFile()
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                result.bad_lines.append(number)
                continue
            if isinstance(record, dict):
                result.records.append(record)
            else:
                result.bad_lines.append(number)
    return result


class AuditPlugin:
    """A plugin writing every ``medcodec_record_outcome`` record to an :class:`AuditLog` (gateway, scripts)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    @hookimpl
    def medcodec_record_outcome(self, record: dict[str, Any]) -> None:
        self.log.write(record)


@contextmanager
def record_to(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[AuditLog]:
    """Within the block, every instance :func:`medcodec.compress` handles is appended to ``path``."""
    from medcodec import _plugins

    log = AuditLog(path, fsync=fsync)
    name = f"medcodec.audit:{Path(path).resolve()}"
    _plugins.register_plugin(AuditPlugin(log), name)
    try:
        yield log
    finally:
        _plugins.unregister_plugin(name)
        log.close()
