"""Closing an image stream cancels its job, running (sampling stops at the next step) or queued (the
slot is freed): over a real socket, since only a real client can hang up."""

from __future__ import annotations

import time

import httpx

from serving_helpers import WorkerGate
from serving_live import serving

GEN = "/v1/images/generations"


def recording(service):
    jobs = []
    submit = service.submit

    def record(job):
        jobs.append(job)
        return submit(job)

    service.submit = record
    return jobs


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition never held"
        time.sleep(0.05)


def test_closing_the_stream_stops_a_running_job(make_app):
    app = make_app()
    service = app.state.service
    jobs = recording(service)
    body = {"prompt": "a long one", "steps": 60, "stream": True, "partial_images": 3}
    with serving(app) as url, httpx.Client(timeout=120) as http:
        with http.stream("POST", url + GEN, json=body) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("event: image_generation.partial_image"):
                    break  # first preview (after step 15 of 60): hang up
        (job,) = jobs
        wait_for(job.future.done)
        assert job.cancelled.is_set()
        assert job.progress[0] < 60, job.progress  # sampling stopped early
        wait_for(lambda: not service.queue.busy)
        ok = http.post(url + GEN, json={"prompt": "next", "steps": 2})
        assert ok.status_code == 200  # the worker is free for the next client


def test_closing_a_queued_stream_frees_its_slot(make_app):
    app = make_app(max_queue=1)
    service = app.state.service
    jobs = recording(service)
    with serving(app) as url, httpx.Client(timeout=60) as http:
        gate = WorkerGate(service)
        with http.stream("POST", url + GEN, json={"prompt": "queued", "steps": 2, "stream": True}) as r:
            assert r.status_code == 200
            wait_for(lambda: service.queue.depth() == 1)
        # The client hung up while its job waited: the job is cancelled and the only slot is free again.
        wait_for(lambda: jobs[0].cancelled.is_set())
        assert service.queue.depth() == 0
        gate.open()
        assert http.post(url + GEN, json={"prompt": "after", "steps": 2}).status_code == 200
