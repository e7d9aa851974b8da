"""Code the frames of a multi-frame dataset on every core, although pydicom asks for them one at a time.

pydicom calls a plugin's ``encode_frame``/``decode_frame`` once per frame, in order, and waits for each
result. Every call receives the runner, and the runner can produce any frame (``EncodeRunner.get_frame(i)``;
``DecodeRunner.src`` is the encapsulated data). So on the first call for a runner we start coding the next
frames in a thread pool (imagecodecs releases the GIL, so threads run in parallel); later calls pick up the
finished result. A call whose frame is not the one expected next (a caller asking for a single frame, or a
file-backed source we must not read concurrently) drops the read-ahead and is coded directly: the results are
always the same as serial coding, only faster.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")

THREADS_OPTION = "htj2k_threads"
"""Option (``ds.compress(..., htj2k_threads=N)`` / ``ds.pixel_array_options(htj2k_threads=N)``); 1 disables."""

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=available_cores(), thread_name_prefix="medcodec-htj2k")
        return _executor


class ReadAhead(Generic[Result]):
    """The frames of one runner, coded up to ``window`` frames ahead of the caller.

    Frame 0 is coded in the caller's thread once it is known to be the first of a full pass; only then are
    the next frames queued, so a caller that wants one frame wastes no work unless it asks for frame 0.
    """

    def __init__(self, sources: Iterator[bytes], count: int, work: Callable[[bytes], Result], window: int) -> None:
        self._sources, self._count, self._work, self._window = sources, count, work, window
        self._pending: dict[int, tuple[bytes, Future[Result]]] = {}
        self._next_to_submit = 0
        self.next_to_take = 0

    def _fill(self) -> None:
        while self._next_to_submit < self._count and len(self._pending) < self._window:
            src = next(self._sources, None)
            if src is None:
                self._count = self._next_to_submit
                return
            self._pending[self._next_to_submit] = (src, _pool().submit(self._work, src))
            self._next_to_submit += 1

    def take(self, src: bytes) -> tuple[bool, Result | None]:
        """(True, result) when ``src`` is the frame expected next; (False, None) when it is not."""
        if self.next_to_take == 0:
            first = next(self._sources, None)
            if first is None or first != src:
                return False, None
            self._next_to_submit = self.next_to_take = 1
            self._fill()
            return True, self._work(src)
        entry = self._pending.pop(self.next_to_take, None)
        if entry is None or entry[0] != src:
            self.cancel()
            return False, None
        self.next_to_take += 1
        self._fill()
        return True, entry[1].result()

    @property
    def finished(self) -> bool:
        return self.next_to_take >= self._count

    def cancel(self) -> None:
        for _, future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._count = 0


#: runner -> its read-ahead, or None once it is known not to use one.
_states: weakref.WeakKeyDictionary[Any, ReadAhead[Any] | None] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def threads_for(runner: Any) -> int:
    value = runner.get_option(THREADS_OPTION, None)
    threads = available_cores() if value is None else int(value)
    if threads < 1:
        raise ValueError(f"{THREADS_OPTION} must be at least 1, got {value}")
    return threads


def code_frame(runner: Any, src: bytes, work: Callable[[bytes], Result],
               sources: Callable[[], Iterator[bytes] | None]) -> Result:
    """``work(src)``, with the runner's next frames coded ahead in the pool (started on first use).

    :param sources: returns an iterator over all the runner's frames in order, or None when the source must
        not be read ahead (then every frame is coded in the caller's thread).
    """
    count = int(getattr(runner, "number_of_frames", 1) or 1)
    if count < 2:
        return work(src)
    with _states_lock:
        if runner in _states:
            state = _states[runner]
        else:
            frames = sources() if threads_for(runner) > 1 else None
            state = None if frames is None else ReadAhead(frames, count, work, window=threads_for(runner))
            _states[runner] = state
    if state is None:
        return work(src)
    taken, result = state.take(src)
    if not taken:
        with _states_lock:
            _states[runner] = None  # a single-frame request or an unexpected order: code directly from now on
        return work(src)
    if state.finished:
        with _states_lock:
            _states.pop(runner, None)  # a later full pass starts a new read-ahead
    return result  # type: ignore[return-value]
