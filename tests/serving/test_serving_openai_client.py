"""The official `openai` Python client against a live `uniimage serve --model tiny` (a real subprocess):
generation as b64 and url, a stream with partial images, an edit with two images, chat with usage."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from serving_helpers import png_bytes
from serving_live import free_port

openai = pytest.importorskip("openai")  # a test dependency (pyproject [test]); skipped only where it is absent

KEY = "test-key-123"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "uniimage.cli.main", "serve", "--model", "tiny", "--port", str(port),
                             "--api-key", KEY, "--no-ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    try:
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uniimage serve did not come up"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0, timeout=300)


def png_of(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def test_generate_b64_and_url(client, server):
    out = client.images.generate(model="tiny", prompt="a red circle", n=2, size="auto", quality="low",
                                 extra_body={"steps": 2, "seed": 1})
    assert len(out.data) == 2 and png_of(out.data[0].b64_json).format == "PNG"
    assert out.usage.total_tokens == out.usage.input_tokens + out.usage.output_tokens and out.quality == "low"
    same = client.images.generate(model="tiny", prompt="a red circle", response_format="url", output_format="jpeg",
                                  extra_body={"steps": 2, "seed": 1})
    url = same.data[0].url
    assert url.startswith(server + "/v1/images/files/")
    assert httpx.get(url).status_code == 401  # behind the key, like every /v1 route
    fetched = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"})
    assert fetched.status_code == 200 and Image.open(io.BytesIO(fetched.content)).format == "JPEG"


def test_generate_stream_with_partial_images(client):
    stream = client.images.generate(model="tiny", prompt="a blue square", stream=True, partial_images=2,
                                    extra_body={"steps": 3, "seed": 2})
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert isinstance(events[0], openai.types.ImageGenPartialImageEvent)
    assert isinstance(events[-1], openai.types.ImageGenCompletedEvent) and events[-1].usage.output_tokens > 0
    assert png_of(events[0].b64_json).size == png_of(events[-1].b64_json).size


def test_edit_with_two_images(client, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(png_bytes((40, 30)))
    b.write_bytes(png_bytes((24, 24), color=(0, 0, 200)))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        out = client.images.edit(model="tiny", image=[fa, fb], prompt="put them side by side", output_format="webp",
                                 extra_body={"steps": 2, "seed": 3})
    assert png_of(out.data[0].b64_json).format == "WEBP"
    assert out.usage.input_tokens_details.image_tokens > 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        events = list(client.images.edit(model="tiny", image=[fa, fb], prompt="blue", stream=True, partial_images=1,
                                         extra_body={"steps": 2}))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]


def test_edit_mask_is_a_bad_request(client, tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(png_bytes())
    with open(a, "rb") as fa, open(a, "rb") as fm, pytest.raises(openai.BadRequestError, match="mask"):
        client.images.edit(model="tiny", image=fa, mask=fm, prompt="x", extra_body={"steps": 2})


def test_chat_with_usage_plain_and_streamed(client):
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                             {"type": "text", "text": "What colour is it?"}]}]
    out = client.chat.completions.create(model="tiny", messages=messages, max_tokens=5)
    assert out.usage.prompt_tokens > 0 and 1 <= out.usage.completion_tokens <= 5
    assert out.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model="tiny", messages=messages, max_tokens=5, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == out.usage.completion_tokens and chunks[-1].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == out.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="not allowed"):
        client.chat.completions.create(model="tiny", max_tokens=2, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}, {"type": "text", "text": "?"}]}])


def test_errors_map_to_the_clients_exceptions(client, server):
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="tiny", prompt="x", size="7x7")
    bad = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    assert httpx.get(server + "/health").json() == {"status": "ok"}
