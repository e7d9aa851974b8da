"""The on-disk forward queue: every received instance is written here (fsync'd) before the sender hears Success.

Layout under ``root``::

    pending/<ns>-<SOPInstanceUID>.dcm        waiting to be forwarded (oldest first)
    pending/<ns>-<SOPInstanceUID>.dcm.json   retry state after a failure: attempts, next try, last error
    committing/<...>.dcm (+ .json)            forwarded, kept until the peer confirms storage commitment
    failed/<...>.dcm (+ .json)                gave up after ``max_attempts`` (never deleted automatically)
    tmp/                                      partial writes; renamed into place only when complete

A :class:`QueueWorker` thread drains ``pending/`` in batches through a send function, backs off exponentially
per instance on failure, and removes a file only after the peer stored it (or, with storage commitment, after it
confirmed). A crash at any point leaves every instance in one of the folders, so nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("medcodec.pacs")

PENDING, COMMITTING, FAILED, TMP = "pending", "committing", "failed", "tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either nothing or the whole file (fsync'd)."""
    tmp_dir = tmp_dir or path.parent
    tmp = tmp_dir / f".{path.name}.{os.getpid()}.{threading.get_ident()}.part"
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class Item:
    """One queued instance file."""

    path: Path

    @property
    def sop_instance_uid(self) -> str:
        return self.path.stem.split("-", 1)[1]

    @property
    def state_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except (OSError, ValueError):
            return {"attempts": 0, "next_try": 0.0}


class ForwardQueue:
    """A durable FIFO of DICOM files with per-item exponential back-off.

    :param base_delay: seconds before the first retry; doubled per failure.
    :param max_delay: upper bound of the back-off.
    :param max_attempts: after this many failures an item moves to ``failed/`` (None: retry forever).
    """

    def __init__(self, root: Path, *, base_delay: float = 1.0, max_delay: float = 60.0,
                 max_attempts: int | None = None) -> None:
        self.root = root
        self.base_delay, self.max_delay, self.max_attempts = base_delay, max_delay, max_attempts
        for name in (PENDING, COMMITTING, FAILED, TMP):
            (root / name).mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._seq = 0
        self._claimed: set[Path] = set()

    def dir(self, name: str) -> Path:
        return self.root / name

    def put(self, data: bytes, sop_instance_uid: str) -> Item:
        """Durably enqueue one Part 10 file; returns once it is on disk."""
        with self._cond:
            self._seq += 1
            name = f"{time.time_ns():020d}{self._seq % 1000:03d}-{sop_instance_uid}.dcm"
        item = Item(self.dir(PENDING) / name)
        atomic_write(item.path, data, self.dir(TMP))
        with self._cond:
            self._cond.notify_all()
        return item

    def items(self, folder: str = PENDING) -> list[Item]:
        return [Item(p) for p in sorted(self.dir(folder).glob("*.dcm"))]

    def due(self, limit: int, now: float | None = None) -> list[Item]:
        """Up to ``limit`` pending items whose back-off has expired, oldest first."""
        now = time.time() if now is None else now
        out = []
        for item in self.items():
            if not item.state_path.exists() or item.state()["next_try"] <= now:
                out.append(item)
                if len(out) >= limit:
                    break
        return out

    def claim(self, limit: int) -> list[Item]:
        """Like :meth:`due`, but items claimed by another worker thread are skipped until released."""
        with self._cond:
            now, out = time.time(), []
            for item in self.items():
                if item.path in self._claimed:
                    continue
                if not item.state_path.exists() or item.state()["next_try"] <= now:
                    out.append(item)
                    self._claimed.add(item.path)
                    if len(out) >= limit:
                        break
            return out

    def release(self, items: Sequence[Item]) -> None:
        with self._cond:
            self._claimed.difference_update(item.path for item in items)

    def next_due(self) -> float | None:
        """When the earliest waiting item becomes due (epoch seconds), or None if the queue is empty."""
        times = [item.state()["next_try"] if item.state_path.exists() else 0.0 for item in self.items()]
        return min(times) if times else None

    def done(self, item: Item) -> None:
        """The peer stored the instance: remove it."""
        item.path.unlink(missing_ok=True)
        item.state_path.unlink(missing_ok=True)

    def retry(self, item: Item, error: str, *, permanent: bool = False) -> None:
        """Record a failure; schedule the next try (exponential back-off) or move the item to ``failed/``."""
        state = item.state()
        attempts = int(state.get("attempts", 0)) + 1
        delay = min(self.base_delay * 2 ** (attempts - 1), self.max_delay)
        state.update(attempts=attempts, next_try=time.time() + delay, last_error=error)
        give_up = permanent or (self.max_attempts is not None and attempts >= self.max_attempts)
        if give_up:
            self._move(item, FAILED, state)
            log.error("SOP Instance %s moved to %s after %d attempt(s): %s", item.sop_instance_uid,
                      self.dir(FAILED), attempts, error)
        else:
            atomic_write(item.state_path, json.dumps(state).encode(), self.dir(TMP))
            log.warning("SOP Instance %s: forward attempt %d failed (%s); next try in %.1f s",
                        item.sop_instance_uid, attempts, error, delay)

    def await_commitment(self, item: Item, transaction_uid: str) -> Item:
        """Move a forwarded item to ``committing/`` until the peer confirms it (storage commitment)."""
        return self._move(item, COMMITTING, {"transaction_uid": transaction_uid, "sent": time.time()})

    def committed(self, sop_instance_uids: Sequence[str]) -> int:
        """Purge committed instances from ``committing/``; returns how many were removed."""
        wanted, removed = set(sop_instance_uids), 0
        for item in self.items(COMMITTING):
            if item.sop_instance_uid in wanted:
                self.done(item)
                removed += 1
        return removed

    def requeue_uncommitted(self, sop_instance_uids: Sequence[str], reason: str) -> None:
        """The peer reported these as not committed: put them back in ``pending/``."""
        wanted = set(sop_instance_uids)
        for item in self.items(COMMITTING):
            if item.sop_instance_uid in wanted:
                self._move(item, PENDING, {"attempts": 0, "next_try": 0.0, "last_error": reason})

    def _move(self, item: Item, folder: str, state: dict[str, Any]) -> Item:
        target = Item(self.dir(folder) / item.path.name)
        atomic_write(target.state_path, json.dumps(state).encode(), self.dir(TMP))
        os.replace(item.path, target.path)
        item.state_path.unlink(missing_ok=True)
        _fsync_dir(target.path.parent)
        return target

    def counts(self) -> dict[str, int]:
        return {name: len(self.items(name)) for name in (PENDING, COMMITTING, FAILED)}

    def wait(self, timeout: float) -> None:
        """Sleep until something is enqueued or ``timeout`` seconds pass."""
        with self._cond:
            self._cond.wait(timeout)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


#: send(items) -> one (error or None, permanent) per item; raises ConnectionError when the peer is unreachable.
SendBatch = Callable[[list[Item]], list[tuple[str | None, bool]]]


class QueueWorker(threading.Thread):
    """Drains a :class:`ForwardQueue` through ``send`` until :meth:`stop` is called.

    Several workers may drain one queue (one association each): :meth:`ForwardQueue.claim` hands every item
    to one worker at a time.
    """

    def __init__(self, queue: ForwardQueue, send: SendBatch, *, batch: int = 32, idle: float = 1.0,
                 on_stored: Callable[[list[Item]], None] | None = None, name: str = "medcodec-forward") -> None:
        super().__init__(name=name, daemon=True)
        self.queue, self.send, self.batch, self.idle = queue, send, batch, idle
        self.on_stored = on_stored or self._purge
        self._halt = threading.Event()
        self.sent = 0

    def _purge(self, items: list[Item]) -> None:
        for item in items:
            self.queue.done(item)

    def stop(self, timeout: float = 30.0) -> None:
        self._halt.set()
        self.queue.wake()
        self.join(timeout)

    def run(self) -> None:
        while not self._halt.is_set():
            items = self.queue.claim(self.batch)
            if not items:
                upcoming = self.queue.next_due()
                delay = self.idle if upcoming is None else max(0.01, min(self.idle, upcoming - time.time()))
                self.queue.wait(delay)
                continue
            self.drain(items)

    def drain(self, items: list[Item]) -> None:
        try:
            self._drain(items)
        finally:
            self.queue.release(items)

    def _drain(self, items: list[Item]) -> None:
        try:
            outcomes = self.send(items)
        except ConnectionError as exc:
            for item in items:
                self.queue.retry(item, str(exc))
            return
        except Exception as exc:
            log.exception("forwarding a batch failed unexpectedly")
            for item in items:
                self.queue.retry(item, f"unexpected error: {exc}")
            return
        stored = []
        for item, (error, permanent) in zip(items, outcomes, strict=True):
            if error is None:
                stored.append(item)
            else:
                self.queue.retry(item, error, permanent=permanent)
        if stored:
            self.on_stored(stored)
            self.sent += len(stored)
