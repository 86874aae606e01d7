"""Helpers shared by the serving tests: input makers and a gate that holds the worker busy."""

from __future__ import annotations

import base64
import io
import threading

from PIL import Image

STEPS = 2  # every request in these tests samples 2 steps: enough to exercise the loop, fast on CPU


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
