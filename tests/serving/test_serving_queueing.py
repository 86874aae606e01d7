"""The shared queue seen through the API: 429 when full, micro-batching, dropped work, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient

from uniimage.serving.queue import JobCancelled

from serving_helpers import STEPS, WorkerGate

GEN = "/v1/images/generations"


def post_in_thread(client, body, out, i):
    out[i] = client.post(GEN, json=body)


def wait_depth(service, depth, timeout=10.0):


    end = time.monotonic() + timeout
    while service.queue.depth() < depth:
        assert time.monotonic() < end, f"queue never reached depth {depth}"
        time.sleep(0.01)


def test_full_queue_answers_429_with_retry_after(make_app):
    app = make_app(max_queue=1)
    service = app.state.service
    with TestClient(app) as c:
        gate = WorkerGate(service)
        out = {}
        waiting = threading.Thread(target=post_in_thread, args=(c, {"prompt": "first", "steps": STEPS}, out, 0))
        waiting.start()
        wait_depth(service, 1)
        r = c.post(GEN, json={"prompt": "one too many", "steps": STEPS})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert "max_queue" in r.json()["error"]["message"]
        assert c.get("/v1/status").json()["queue_depth"] == 1
        gate.open()
        waiting.join(30)
        assert out[0].status_code == 200


def test_compatible_requests_share_one_pipeline_call_and_keep_their_seeds(make_app):
    app = make_app(max_batch=4)
    service = app.state.service
    with TestClient(app) as c:
        solo = {s: c.post(GEN, json={"prompt": f"p{s}", "steps": STEPS, "seed": s}).json() for s in (1, 2, 3)}
        gate = WorkerGate(service)
        before = service.queue.batches_run
        out = {}
        threads = [
            threading.Thread(target=post_in_thread, args=(c, {"prompt": f"p{s}", "steps": STEPS, "seed": s}, out, s))
            for s in (1, 2, 3)
        ]
        for t in threads:
            t.start()
        wait_depth(service, 3)
        gate.open()
        for t in threads:
            t.join(30)
        assert service.queue.batches_run - before == 2  # the gate, then one batch of three
        for s in (1, 2, 3):
            body = out[s].json()
            assert out[s].status_code == 200 and body["seed"] == s
            assert body["data"][0]["b64_json"] == solo[s]["data"][0]["b64_json"]  # batching changes nothing


def test_incompatible_requests_run_separately(make_app):
    app = make_app(max_batch=4)
    service = app.state.service
    with TestClient(app) as c:
        gate = WorkerGate(service)
        before = service.queue.batches_run
        out = {}
        bodies = [{"prompt": "a", "steps": STEPS}, {"prompt": "b", "steps": STEPS + 1}]
        threads = [threading.Thread(target=post_in_thread, args=(c, b, out, i)) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        wait_depth(service, 2)
        gate.open()
        for t in threads:
            t.join(30)
        assert all(r.status_code == 200 for r in out.values())
        assert service.queue.batches_run - before == 3


def test_disconnected_client_work_is_dropped(make_app):
    service = make_app().state.service
    gate = WorkerGate(service)
    job = service.submit(service.image_job("never drawn", steps=STEPS))
    jobs_before = service.queue.jobs_run

    async def gone():
        return True

    with pytest.raises(JobCancelled):
        asyncio.run(service.wait(job, gone))
    assert service.queue.depth() == 0
    gate.open()
    follow = service.submit(service.image_job("drawn", steps=STEPS))
    assert len(follow.future.result(30)) == 1
    assert job.future.cancelled()
    assert service.queue.jobs_run - jobs_before == 2  # gate + follow-up; the dropped job never ran


def test_request_timeout_answers_504(make_app):
    app = make_app(timeout_s=0.3)
    with TestClient(app) as c:
        gate = WorkerGate(app.state.service)
        r = c.post(GEN, json={"prompt": "slow", "steps": STEPS})
        assert r.status_code == 504
        assert "timeout" in r.json()["error"]["message"]
        gate.open()
        assert c.get("/v1/status").json()["queue_depth"] == 0
