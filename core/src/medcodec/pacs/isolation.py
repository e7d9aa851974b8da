"""Codec isolation for the gateway: compress received instances in worker processes, with a time limit.

Native codecs are not all safe to call from several threads at once (measured here: concurrent OpenJPEG
encode/decode in one process segfaulted the gateway under 8 concurrent associations), and a codec bug must never
take the receiver down with it (Orthanc 1.10 crashes on three such bugs). :class:`CodecPool` therefore runs
:func:`compress_instance` in a pool of worker processes: a worker that crashes is replaced and the instance is
tried once more; an instance that exceeds the time limit is kept unchanged and the pool is rebuilt. With
``workers=0`` the work runs in-process, one instance at a time (tests with in-process codecs use this).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

log = logging.getLogger("medcodec.pacs")


@dataclass(frozen=True)
class Job:
    """What :func:`compress_instance` needs (picklable)."""

    raw: bytes
    profile: str = "diagnostic"
    options: dict[str, Any] = field(default_factory=dict)
    calling_ae: str | None = None
    accepted: frozenset[str] | None = None


@dataclass(frozen=True)
class Outcome:
    """``data`` is None when the original bytes are kept; ``kind``: compressed, kept, refused or failed."""

    kind: str
    sop_instance_uid: str
    message: str
    data: bytes | None = None


def compress_instance(job: Job) -> Outcome:
    """Policy -> encode -> verify -> metadata for one Part 10 file. Never raises for a codec failure."""
    from pydicom import dcmread

    from medcodec.errors import PolicyRefusedError
    from medcodec.pipeline import choose, compress
    from medcodec.registry import CompressionRequest

    ds = dcmread(BytesIO(job.raw))
    uid = str(ds.SOPInstanceUID)
    if "PixelData" not in ds:
        return Outcome("kept", uid, "no pixel data")
    source_ts = str(ds.file_meta.TransferSyntaxUID)
    request = CompressionRequest(profile=job.profile, options=dict(job.options), calling_ae=job.calling_ae,
                                 accepted_transfer_syntaxes=job.accepted, source=f"SOP Instance {uid}")
    try:
        spec, _choice = choose(ds, request)
        if spec.transfer_syntax == source_ts:
            return Outcome("kept", uid, f"already in {source_ts}, the syntax the policy chose")
        report = compress(ds, request=request)
    except PolicyRefusedError as exc:
        return Outcome("refused", uid, f"kept as received ({source_ts}): {exc.reason}")
    except Exception as exc:  # noqa: BLE001 - a codec failure forwards the original (never lost)
        return Outcome("failed", uid, f"compression failed, forwarding the original unchanged ({source_ts}): "
                                      f"{type(exc).__name__}: {exc}")
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return Outcome("compressed", str(ds.SOPInstanceUID),
                   f"{source_ts} -> {report.transfer_syntax} ({report.codec}, ratio {report.ratio:.2f}, "
                   f"verified {report.verified})", buffer.getvalue())


def _init_worker(policy: str | None) -> None:
    import warnings

    import medcodec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a broken sibling plugin is reported by the parent, not each worker
        medcodec.install()
    if policy:
        from medcodec.policy import use_policy

        use_policy(policy)


class CodecPool:
    """Runs :func:`compress_instance` in ``workers`` processes (0: in-process, serialised)."""

    def __init__(self, workers: int, *, timeout: float = 120.0, policy: str | None = None,
                 function: Callable[[Any], Outcome] = compress_instance) -> None:
        self.workers, self.timeout, self.policy, self.function = workers, timeout, policy, function
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.crashes = 0
        self.timeouts = 0

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=(self.policy,))
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor, *, kill: bool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        processes = list((getattr(pool, "_processes", None) or {}).values()) if kill else []
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a worker stuck in native code ignores everything but SIGKILL
            if process.is_alive() and process.pid != os.getpid():
                process.kill()

    def run(self, job: Job) -> Outcome:
        if self.workers <= 0:
            with self._lock:
                return self.function(job)
        for attempt in (1, 2):
            pool = self._executor()
            try:
                return pool.submit(self.function, job).result(timeout=self.timeout)
            except BrokenProcessPool:
                self.crashes += 1
                self._discard(pool, kill=False)
                log.error("a codec worker process crashed (attempt %d); %s", attempt,
                          "retrying in a new worker" if attempt == 1 else "keeping the original")
            except FutureTimeout:
                self.timeouts += 1
                self._discard(pool, kill=True)
                return Outcome("failed", _uid(job), f"compression exceeded {self.timeout:g} s; "
                                                        "forwarding the original unchanged")
        return Outcome("failed", _uid(job), "the codec crashed its worker process twice; "
                                                "forwarding the original unchanged")

    def in_process_guard(self) -> Any:
        """A context manager for other in-process codec work (the forwarder's transcoding): with
        ``workers=0`` it shares the pool's lock, otherwise codecs run elsewhere and nothing is held."""
        from contextlib import nullcontext

        return self._lock if self.workers <= 0 else nullcontext()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _uid(job: Job) -> str:
    from pydicom import dcmread

    try:
        return str(dcmread(BytesIO(job.raw), stop_before_pixels=True).SOPInstanceUID)
    except Exception:  # noqa: BLE001 - only used for a log line
        return "(unreadable)"
