"""One bounded queue, one worker thread: the model never runs two requests on top of each other.

Micro-batching needs no timer: while the worker is busy, requests pile up, and the next time it takes
work it also takes every queued job with the same batch key (up to `max_batch`) and runs them as one
pipeline call. An idle server therefore adds no latency to a lone request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Hashable, Optional


class QueueFull(Exception):
    """The queue holds `max_queue` jobs; the client should come back after `retry_after` seconds."""

    def __init__(self, max_queue: int, retry_after: int):
        super().__init__(f"server busy: the queue is full ({max_queue} requests waiting, limit max_queue)")
        self.retry_after = retry_after


class JobCancelled(Exception):
    """The job's client went away (or timed out) before its work finished."""


class JobTimeout(Exception):
    """The job waited past its deadline before the worker reached it."""


# A runner takes the jobs of one batch and returns one result per job, in order.
Runner = Callable[[list["Job"]], list[Any]]


class Job:
    def __init__(self, runner: Runner, payload: Any, key: Optional[Hashable] = None, timeout_s: float | None = None):
        self.runner = runner
        self.payload = payload
        self.key = key  # jobs with equal non-None keys may share one pipeline call
        self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.future: Future = Future()
        self.cancelled = threading.Event()
        self.progress = (0, 0)  # (step, total), written by the worker, read by the UI

    def cancel(self) -> None:
        """Drop queued work; work already running sees `cancelled` at its next step."""
        self.cancelled.set()
        self.future.cancel()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


class WorkQueue:
    def __init__(self, max_queue: int = 16, max_batch: int = 4):
        if max_queue < 1 or max_batch < 1:
            raise ValueError("max_queue and max_batch must be at least 1")
        self.max_queue = max_queue
        self.max_batch = max_batch
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False
        self._batch_seconds = 1.0  # running mean, for Retry-After
        self.batches_run = 0
        self.jobs_run = 0
        self._thread = threading.Thread(target=self._loop, name="uniimage-worker", daemon=True)
        self._thread.start()

    # -- client side -------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        with self._cond:
            if self._closed:
                raise RuntimeError("the work queue is closed")
            self._drop_cancelled()
            if len(self._pending) >= self.max_queue:
                raise QueueFull(self.max_queue, self.retry_after())
            self._pending.append(job)
            self._cond.notify()
        return job

    def depth(self) -> int:
        """Jobs waiting (not counting the batch that is running)."""
        with self._cond:
            return sum(1 for j in self._pending if not j.cancelled.is_set())

    @property
    def busy(self) -> bool:
        return self._busy

    def retry_after(self) -> int:
        batches_ahead = len(self._pending) / self.max_batch + 1
        return max(1, math.ceil(self._batch_seconds * batches_ahead))

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            for job in self._pending:
                job.cancel()
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- worker side -------------------------------------------------------------------------------
    def _drop_cancelled(self) -> None:
        if any(j.cancelled.is_set() for j in self._pending):
            self._pending = deque(j for j in self._pending if not j.cancelled.is_set())

    def _take_batch(self) -> list[Job] | None:
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._pending or self._closed:
                    break
                self._cond.wait()
            if self._closed:
                return None
            first = self._pending.popleft()
            batch = [first]
            if first.key is not None:
                for job in list(self._pending):
                    if len(batch) >= self.max_batch:
                        break
                    if job.key == first.key:
                        self._pending.remove(job)
                        batch.append(job)
            self._busy = True
            return batch

    def _start(self, batch: list[Job]) -> list[Job]:
        """Mark jobs running; the ones cancelled or expired meanwhile are settled and left out."""
        live = []
        for job in batch:
            if not job.future.set_running_or_notify_cancel():
                continue
            if job.expired():
                job.future.set_exception(JobTimeout("the request timed out while waiting in the queue"))
                continue
            live.append(job)
        return live

    def _run(self, batch: list[Job]) -> None:
        t0 = time.monotonic()
        try:
            results, error = batch[0].runner(batch), None
        except BaseException as e:  # the worker must survive anything a request does
            results, error = None, e
        # Count before settling: a client that has its answer must also see it in the counts.
        elapsed = time.monotonic() - t0
        self._batch_seconds = 0.8 * self._batch_seconds + 0.2 * elapsed
        self.batches_run += 1
        self.jobs_run += len(batch)
        for i, job in enumerate(batch):
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(results[i])

    def _loop(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                live = self._start(batch)
                if live:
                    self._run(live)
            finally:
                self._busy = False
