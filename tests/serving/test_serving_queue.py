"""The work queue on its own: bounds, micro-batching, cancellation, timeouts, worker survival."""

from __future__ import annotations

import threading
import time

import pytest

from uniimage.serving.queue import Job, JobTimeout, QueueFull, WorkQueue


def recorder():
    batches = []

    def run(jobs):
        batches.append([j.payload for j in jobs])
        return [j.payload * 10 for j in jobs]

    return batches, run


def gate(q: WorkQueue):
    started, release = threading.Event(), threading.Event()

    def hold(jobs):
        started.set()
        release.wait(10)
        return [None]

    q.submit(Job(hold, None))
    assert started.wait(5)
    return release


@pytest.fixture
def q():
    queue = WorkQueue(max_queue=3, max_batch=2)
    yield queue
    queue.close()


def test_runs_one_job(q):
    batches, run = recorder()
    job = q.submit(Job(run, 4))
    assert job.future.result(5) == 40
    assert batches == [[4]]


def test_full_queue_raises_with_retry_after(q):
    release = gate(q)
    _, run = recorder()
    for i in range(3):
        q.submit(Job(run, i))
    with pytest.raises(QueueFull) as info:
        q.submit(Job(run, 99))
    assert info.value.retry_after >= 1
    assert "max_queue" in str(info.value)
    release.set()


def test_same_key_jobs_share_a_batch_up_to_max_batch(q):
    release = gate(q)
    batches, run = recorder()
    jobs = [q.submit(Job(run, i, key="k")) for i in range(3)]
    release.set()
    assert [j.future.result(5) for j in jobs] == [0, 10, 20]
    assert batches == [[0, 1], [2]]  # max_batch=2


def test_different_keys_never_share_a_batch(q):
    release = gate(q)
    batches, run = recorder()
    jobs = [q.submit(Job(run, 1, key="a")), q.submit(Job(run, 2, key="b")), q.submit(Job(run, 3, key=None))]
    release.set()
    for j in jobs:
        j.future.result(5)
    assert batches == [[1], [2], [3]]


def test_cancelled_job_is_dropped_and_frees_its_slot(q):
    release = gate(q)
    batches, run = recorder()
    doomed = q.submit(Job(run, 1))
    doomed.cancel()
    assert q.depth() == 0
    kept = [q.submit(Job(run, i)) for i in (2, 3, 4)]  # the cancelled one no longer counts
    release.set()
    assert [j.future.result(5) for j in kept] == [20, 30, 40]
    assert [1] not in batches and doomed.future.cancelled()


def test_job_past_its_deadline_is_not_run(q):
    release = gate(q)
    batches, run = recorder()
    job = q.submit(Job(run, 1, timeout_s=0.05))
    time.sleep(0.1)
    release.set()
    with pytest.raises(JobTimeout):
        job.future.result(5)
    assert batches == []


def test_worker_survives_a_failing_runner(q):
    def boom(jobs):
        raise RuntimeError("model exploded")

    bad = q.submit(Job(boom, None))
    with pytest.raises(RuntimeError, match="exploded"):
        bad.future.result(5)
    _, run = recorder()
    assert q.submit(Job(run, 5)).future.result(5) == 50
