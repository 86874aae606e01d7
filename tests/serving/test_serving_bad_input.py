"""Each kind of bad input gets a clear 4xx naming the problem, and the server keeps serving after it."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from uniimage.serving import Limits

from serving_helpers import STEPS, data_uri, png_bytes

GEN = "/v1/images/generations"


def assert_error(r, status, *words):
    assert r.status_code == status, r.text
    message = r.json()["error"]["message"]
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def client(make_app):
    with TestClient(make_app()) as c:
        yield c
        # After every bad request the server still answers a good one.
        ok = c.post(GEN, json={"prompt": "still alive", "steps": STEPS})
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"n": 1}, 400, ["prompt", "required"]),
        ({"prompt": 5}, 400, ["prompt", "string"]),
        ({"prompt": "x", "n": "two"}, 400, ["n"]),
        ({"prompt": "x", "steps": 2.5}, 400, ["steps"]),
        ({"prompt": "x", "guidance_scale": "high"}, 400, ["guidance_scale"]),
        ({"prompt": "x", "response_format": "link"}, 400, ["response_format"]),
        ({"prompt": "x", "colour": "red"}, 400, ["unknown field 'colour'"]),
        ({"prompt": "   "}, 400, ["prompt", "non-empty"]),
        ({"prompt": "x" * 5000}, 400, ["prompt", "limit"]),
        ({"prompt": "x", "n": 0}, 400, ["'n'", "max_n"]),
        ({"prompt": "x", "n": 50}, 400, ["'n'", "max_n"]),
        ({"prompt": "x", "size": "1234x77"}, 400, ["size", "1234x77"]),
        ({"prompt": "x", "steps": 0}, 400, ["steps", "max_steps"]),
        ({"prompt": "x", "steps": 100000}, 400, ["steps", "max_steps"]),
        ({"prompt": "x", "guidance_scale": -3}, 400, ["guidance_scale"]),
        ({"prompt": "x", "seed": 2**70}, 400, ["seed"]),
        ({"prompt": "x", "guidance_interval": [0.8, 0.2]}, 400, ["guidance_interval", "lo < hi"]),
        ({"prompt": "x", "guidance_interval": [0, 1.5]}, 400, ["guidance_interval", "hi <= 1"]),
        ({"prompt": "x", "guidance_interval": [0.5]}, 400, ["guidance_interval", "two numbers"]),
        ({"prompt": "x", "guidance_interval": "0,1"}, 400, ["guidance_interval"]),
    ],
)
def test_generation_field_errors(client, body, status, words):
    body = {"steps": STEPS, **body} if "steps" not in body else body
    assert_error(client.post(GEN, json=body), status, *words)


@pytest.mark.parametrize("raw", [b"{not json", b'{"prompt": "x",}', b"", b"\xff\xfe"])
def test_invalid_json(client, raw):
    r = client.post(GEN, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_json_array_instead_of_object(client):
    assert_error(client.post(GEN, json=["prompt"]), 400)


def edit(client, parts, **fields):
    data = {"prompt": "make it blue", "steps": str(STEPS), **fields}
    return client.post("/v1/images/edits", data=data, files=parts)


def bomb_png() -> bytes:
    # 8000x8000 of one gray value compresses to a few kB but decodes to 64 MP, over the 16 MP cap.
    buf = io.BytesIO()
    Image.new("L", (8000, 8000), 128).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"hello, I am plain text", ["not an image"]),
        (png_bytes()[:60], ["truncated or corrupt"]),
        (b"", ["empty"]),
    ],
    ids=["text", "truncated-png", "empty"],
)
def test_edit_bad_uploads(client, payload, words):
    assert_error(edit(client, [("image", ("x.png", payload, "image/png"))]), 400, *words)


def test_edit_decompression_bomb(client):
    data = bomb_png()
    assert len(data) < 200_000
    assert_error(edit(client, [("image", ("bomb.png", data, "image/png"))]), 400, "pixels", "limit")


def test_edit_needs_an_image_and_caps_the_count(client):
    assert_error(edit(client, []), 400, "image")
    many = [("image", (f"{i}.png", png_bytes(), "image/png")) for i in range(5)]
    assert_error(edit(client, many), 400, "max_images_per_edit")


def test_edit_field_errors(client):
    one = [("image", ("a.png", png_bytes(), "image/png"))]
    assert_error(edit(client, one, n="zero"), 400, "'n' must be an integer")
    assert_error(edit(client, one, steps="999"), 400, "max_steps")
    assert_error(edit(client, one, size="3x3"), 400, "size")
    assert_error(edit(client, one, response_format="link"), 400, "response_format")
    assert_error(edit(client, one, stream="maybe"), 400, "'stream' must be true or false")
    assert_error(edit(client, one, colour="red"), 400, "unknown field 'colour'")
    assert_error(edit(client, one, guidance_interval="low,high"), 400, "'guidance_interval' must be two numbers")
    assert_error(edit(client, one, guidance_interval="0.9,0.1"), 400, "guidance_interval", "lo < hi")
    r = client.post("/v1/images/edits", data={"steps": "2"}, files=one)
    assert_error(r, 400, "prompt", "required")


def test_a_file_path_is_never_opened(client):
    # A client "image" given as text (say, a server path) is not an upload and is never read.
    r = client.post("/v1/images/edits", data={"prompt": "x", "image": "/etc/passwd"})
    assert_error(r, 400, "image", "file part")


def chat(client, content):
    return client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": content}], "max_tokens": 4})


@pytest.mark.parametrize(
    "url, words",
    [
        ("data:image/png;base64,@@@not-base64@@@", ["malformed data URI"]),
        ("data:image/png,rawbytes", ["malformed data URI"]),
        ("data:;base64", ["malformed data URI"]),
        ("https://example.invalid/cat.png", ["example.invalid", "not allowed", "fetches no URLs", "data URI"]),
        ("file:///etc/passwd", ["data URI", "not fetched"]),
        (data_uri(b"GIF89a but not really"), ["not an image"]),
        (data_uri(png_bytes()[:70]), ["truncated or corrupt"]),
    ],
)
def test_chat_bad_image_urls(client, url, words):
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "what is it?"}]
    assert_error(chat(client, content), 400, *words)


def test_chat_shape_errors(client):
    img = {"type": "image_url", "image_url": {"url": data_uri(png_bytes())}}
    assert_error(chat(client, [img]), 400, "question")
    assert_error(client.post("/v1/chat/completions", json={"messages": []}), 400, "messages")
    assert_error(client.post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "hi"}]}), 400)
    body = {"messages": [{"role": "user", "content": [img, {"type": "text", "text": "q"}]}], "max_tokens": 10**6}
    assert_error(client.post("/v1/chat/completions", json=body), 400, "max_new_tokens")
    body["max_tokens"], body["stream"] = 4, "yes"
    assert_error(client.post("/v1/chat/completions", json=body), 400, "stream")


def test_oversized_body_and_upload(make_app):
    limits = Limits(sizes=("32x32",), max_body_bytes=64 * 1024, max_upload_bytes=8 * 1024)
    app = make_app(limits=limits)
    with TestClient(app) as c:
        r = c.post(GEN, content=b"{" + b" " * 100_000 + b"}", headers={"content-type": "application/json"})
        assert_error(r, 413, "max_body_bytes")
        noisy = Image.effect_noise((64, 64), 80).convert("RGB")
        buf = io.BytesIO()
        noisy.save(buf, format="PNG")
        assert 8 * 1024 < len(buf.getvalue()) < 64 * 1024
        r = c.post("/v1/images/edits", data={"prompt": "x", "steps": "2"}, files=[("image", ("n.png", buf.getvalue(), "image/png"))])
        assert_error(r, 413, "max_upload_bytes")
        assert c.get("/health").status_code == 200


def test_chunked_oversized_body_is_cut_off(make_app):
    app = make_app(limits=Limits(sizes=("32x32",), max_body_bytes=10_000))
    with TestClient(app) as c:
        def chunks():
            for _ in range(20):
                yield b" " * 1000

        r = c.post(GEN, content=chunks(), headers={"content-type": "application/json"})
        assert_error(r, 413, "max_body_bytes")


def test_api_key_required_and_checked(make_app):
    app = make_app(api_key="s3cret-key")
    with TestClient(app) as c:
        body = {"prompt": "x", "steps": STEPS}
        assert_error(c.post(GEN, json=body), 401, "missing API key")
        assert_error(c.post(GEN, json=body, headers={"Authorization": "Bearer wrong"}), 401, "invalid API key")
        assert_error(c.post(GEN, json=body, headers={"Authorization": "Basic s3cret-key"}), 401)
        assert_error(c.get("/v1/models"), 401)
        assert c.post(GEN, json=body, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert c.get("/health").json() == {"status": "ok"}  # liveness stays open, and tells nothing else
        assert_error(c.get("/v1/status"), 401)
        status = c.get("/v1/status", headers={"Authorization": "Bearer s3cret-key"}).json()
        assert status["model_loaded"] is True and status["queue_limit"] == 16


def test_ui_sits_behind_the_same_key(make_app):
    app = make_app(api_key="s3cret-key", ui=True)
    with TestClient(app) as c:
        assert c.get("/ui/config").status_code == 401
        assert c.get("/ui/gradio_api/info").status_code == 401
        assert c.post("/ui/login", data={"username": "me", "password": "wrong"}).status_code == 400
        assert c.post("/ui/login", data={"username": "me", "password": "s3cret-key"}).status_code == 200
        assert c.get("/ui/config").status_code == 200
