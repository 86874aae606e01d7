"""Shared fixtures: one tiny pipeline per session, apps built around it, helpers to make inputs."""

from __future__ import annotations

import base64
import io
import threading

import pytest
from PIL import Image

STEPS = 2  # every request in these tests samples 2 steps: enough to exercise the loop, fast on CPU


@pytest.fixture(scope="session")
def pipe():
    from uniimage import UniImagePipeline

    return UniImagePipeline.from_pretrained("tiny")


@pytest.fixture
def make_app(pipe):
    """Build apps around the shared pipeline; their worker threads are closed after the test."""
    from uniimage.serving import create_app

    apps = []

    def build(**kwargs):
        kwargs.setdefault("ui", False)
        app = create_app(pipe, **kwargs)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.service.close()


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c


def png_bytes(size=(40, 30), color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(data: bytes, mime="image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def decode_b64_png(text: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(text)))
    img.load()
    return img


class WorkerGate:
    """Occupies the single worker until released, so tests can line requests up behind it."""

    def __init__(self, service):
        from uniimage.serving.queue import Job

        self.started = threading.Event()
        self.release = threading.Event()

        def hold(jobs):
            self.started.set()
            self.release.wait(30)
            return [None for _ in jobs]

        self.job = service.queue.submit(Job(hold, None))
        assert self.started.wait(10), "worker never picked up the gate job"

    def open(self):
        self.release.set()
        self.job.future.result(10)
