"""OpenAI Images and Chat fields through the in-process app: each honoured, mapped or refused as
docs/serving.md says; previews streamed as OpenAI's events; chat usage, stop, seed, finish_reason."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from uniimage.serving import Limits
from uniimage.serving.files import FileStore
from uniimage.serving.openai_images import QUALITY_STEPS, image_options, partial_steps
from uniimage.serving.schemas import GenerationRequest

from serving_helpers import STEPS, data_uri, png_bytes

GEN, EDIT, CHAT = "/v1/images/generations", "/v1/images/edits", "/v1/chat/completions"


def gen(client, **fields):
    return client.post(GEN, json={"prompt": "a red bicycle", "steps": STEPS, "seed": 3, **fields})


def open_b64(text: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(text)))
    img.load()
    return img


def assert_400(r, *words, param=None):
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    for w in words:
        assert w in error["message"], error["message"]
    if param:
        assert error["param"] == param
    return error


# ---- images: fields ------------------------------------------------------------------------------------
def test_response_echoes_size_quality_format_and_carries_usage(client, pipe):
    body = gen(client, n=5, quality="high", size="auto").json()  # n above the old cap of 4
    assert len(body["data"]) == 5
    native = f"{pipe.default_width}x{pipe.default_height}"
    assert (body["size"], body["quality"], body["output_format"], body["background"]) == (native, "high", "png", "opaque")
    usage = body["usage"]
    text = len(pipe.processor.tokenizer("a red bicycle", add_special_tokens=False)["input_ids"])
    patch = pipe.model.config.vae_downsample_f * pipe.model.transformer.config.patch_size
    assert usage["input_tokens_details"] == {"text_tokens": text, "image_tokens": 0}
    assert usage["output_tokens"] == 5 * (pipe.default_height // patch) * (pipe.default_width // patch)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert isinstance(body["created"], int)


def test_n_is_one_to_ten():
    limits = Limits(sizes=("32x32",))
    assert limits.max_n == 10


def test_quality_maps_to_steps_and_steps_wins():
    limits = Limits(sizes=("32x32",))
    opts = lambda **f: image_options(GenerationRequest(prompt="x", **f), limits)  # noqa: E731
    assert [opts(quality=q).steps for q in ("low", "medium", "high", "auto")] == [10, 20, 30, 30]
    assert opts(quality="low", steps=4).steps == 4
    assert image_options(GenerationRequest(prompt="x", quality="max"), Limits(sizes=("32x32",), max_steps=25)).steps == 25
    assert QUALITY_STEPS["standard"] == 20 and QUALITY_STEPS["hd"] == 30


@pytest.mark.parametrize("fmt, pil", [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_output_format(client, fmt, pil):
    body = gen(client, output_format=fmt).json()
    assert open_b64(body["data"][0]["b64_json"]).format == pil and body["output_format"] == fmt


def test_output_compression_shrinks_jpeg(client):
    big = gen(client, output_format="jpeg", output_compression=100, size="64x64").json()["data"][0]["b64_json"]
    small = gen(client, output_format="jpeg", output_compression=5, size="64x64").json()["data"][0]["b64_json"]
    assert len(small) < len(big)


def test_response_format_url_serves_the_same_bytes_and_expires(client):
    b64 = gen(client, output_format="webp").json()["data"][0]["b64_json"]
    url = gen(client, output_format="webp", response_format="url").json()["data"][0]["url"]
    assert url.startswith("http://testserver/v1/images/files/") and url.endswith(".webp")
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert r.content == base64.b64decode(b64)
    missing = client.get("/v1/images/files/nothing-here.png")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_file_store_is_bounded_and_expires():
    store = FileStore(max_files=2, max_bytes=10, ttl_s=0.2)
    a = store.put(b"aaaa", "png", "image/png")
    b = store.put(b"bbbb", "png", "image/png")
    c = store.put(b"cccc", "png", "image/png")  # over the count: the oldest goes
    assert store.get(a) is None and store.get(b) == ("image/png", b"bbbb") and len(store) == 2
    store.put(b"dddddddd", "png", "image/png")  # over the bytes: b and c go
    assert store.get(b) is None and store.get(c) is None
    time.sleep(0.3)
    assert len(store) == 0


def test_url_files_sit_behind_the_key(make_app):
    with TestClient(make_app(api_key="k")) as c:
        auth = {"Authorization": "Bearer k"}
        url = c.post(GEN, json={"prompt": "x", "steps": STEPS, "response_format": "url"}, headers=auth).json()["data"][0]["url"]
        r = c.get(url)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert c.get(url, headers=auth).status_code == 200


@pytest.mark.parametrize("fields, param, words", [
    ({"background": "transparent"}, "background", ["opaque"]),
    ({"style": "vivid"}, "style", ["prompt"]),
    ({"complexity": "high"}, "complexity", ["not supported"]),
    ({"output_format": "gif"}, "output_format", ["png, jpeg, webp"]),
    ({"output_format": "png", "output_compression": 50}, "output_compression", ["jpeg and webp"]),
    ({"output_format": "jpeg", "output_compression": 101}, "output_compression", ["0 and 100"]),
    ({"quality": "ultra"}, "quality", ["low", "high"]),
    ({"size": "999x999"}, "size", ["renders"]),
    ({"partial_images": 2}, "partial_images", ["stream"]),
    ({"stream": True, "partial_images": 4}, "partial_images", ["0 and 3"]),
    ({"stream": True, "response_format": "url"}, "response_format", ["b64_json"]),
    ({"n": 11}, "n", ["max_n"]),
])
def test_refused_fields_name_themselves(client, fields, param, words):
    assert_400(gen(client, **fields), *words, param=param)


def test_background_opaque_and_moderation_user_accepted(client):
    r = gen(client, background="opaque", moderation="low", user="u-1", safety_identifier="hash", model="gpt-image-1")
    assert r.status_code == 200, r.text


def edit(client, files=None, **fields):
    files = files or [("image[]", ("a.png", png_bytes(), "image/png")), ("image[]", ("b.png", png_bytes((20, 20)), "image/png"))]
    data = {"prompt": "make it blue", "steps": str(STEPS), **{k: str(v) for k, v in fields.items()}}
    return client.post(EDIT, data=data, files=files)


def test_edit_fields_and_usage_counts_input_images(client, pipe):
    r = edit(client, output_format="jpeg", output_compression=80, quality="low", input_fidelity="low", seed=4)
    assert r.status_code == 200, r.text
    body = r.json()
    assert open_b64(body["data"][0]["b64_json"]).format == "JPEG" and body["quality"] == "low"
    assert body["usage"]["input_tokens_details"]["image_tokens"] > 0


def test_edit_mask_markup_and_fidelity_refused(client):
    one = [("image", ("a.png", png_bytes(), "image/png"))]
    assert_400(edit(client, one + [("mask", ("m.png", png_bytes(), "image/png"))]), "'mask' is not supported", param="mask")
    assert_400(edit(client, one + [("markup", ("m.png", png_bytes(), "image/png"))]), "'markup' is not supported")
    assert_400(edit(client, one, input_fidelity="high"), "input_fidelity")


def test_error_shapes_and_statuses(make_app):
    with TestClient(make_app(api_key="k")) as c:
        r = c.post(GEN, json={"prompt": "x"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        r = c.get("/v1/nothing", headers={"Authorization": "Bearer k"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
        r = c.post(GEN, json={"prompt": "x", "steps": "two"}, headers={"Authorization": "Bearer k"})
        err = assert_400(r, "steps")
        assert err["param"] == "steps" and err["code"] == "invalid_value"
        r = c.post(GEN, json={"prompt": "x", "sizee": "32x32"}, headers={"Authorization": "Bearer k"})
        assert assert_400(r, "unknown field 'sizee'")["code"] == "unknown_parameter"


def test_unexpected_failure_is_500_server_error(make_app, monkeypatch):
    app = make_app()
    def boom(*a, **k):
        raise RuntimeError("internal detail that must not leak")
    monkeypatch.setattr(app.state.service, "image_job", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(GEN, json={"prompt": "x", "steps": STEPS})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert "internal detail" not in r.text


# ---- images: streaming ---------------------------------------------------------------------------------
def sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_partial_steps_are_evenly_spaced_and_never_the_last():
    assert partial_steps(30, 3) == (6, 14, 21)
    assert partial_steps(4, 3) == (0, 1, 2)
    assert partial_steps(2, 3) == (0,)
    assert partial_steps(1, 3) == () and partial_steps(30, 0) == ()


def test_generation_stream_sends_partials_then_completed(client, pipe):
    with client.stream("POST", GEN, json={"prompt": "a red bicycle", "steps": 4, "seed": 9, "stream": True,
                                          "partial_images": 3, "n": 2}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse("".join(r.iter_text()))
    kinds = [e for e, _ in events]
    assert kinds == ["image_generation.partial_image"] * 6 + ["image_generation.completed"] * 2
    for kind, data in events:
        assert data["type"] == kind and data["size"] == f"{pipe.default_width}x{pipe.default_height}"
        assert data["output_format"] == "png" and data["quality"] == "auto" and data["background"] == "opaque"
        assert open_b64(data["b64_json"]).size == (pipe.default_width, pipe.default_height)
    assert sorted((d["index"], d["partial_image_index"]) for _, d in events[:6]) == [(i, k) for i in (0, 1) for k in (0, 1, 2)]
    assert events[-1][1]["usage"]["output_tokens"] > 0
    # The final events carry exactly the image a plain request makes; previews differ from it.
    plain = client.post(GEN, json={"prompt": "a red bicycle", "steps": 4, "seed": 9, "n": 2}).json()["data"]
    assert [d["b64_json"] for _, d in events[-2:]] == [p["b64_json"] for p in plain]
    first_preview = next(d for _, d in events if d.get("partial_image_index") == 0 and d["index"] == 0)
    assert first_preview["b64_json"] != events[-2][1]["b64_json"]


def test_edit_stream_uses_image_edit_events_and_zero_partials(client):
    files = [("image", ("a.png", png_bytes(), "image/png"))]
    data = {"prompt": "make it blue", "steps": "2", "stream": "true", "partial_images": "0", "output_format": "webp"}
    with client.stream("POST", EDIT, data=data, files=files) as r:
        events = sse("".join(r.iter_text()))
    assert [e for e, _ in events] == ["image_edit.completed"]
    assert open_b64(events[0][1]["b64_json"]).format == "WEBP"


# ---- chat ----------------------------------------------------------------------------------------------
def ask(question="What is in the picture?", **extra):
    parts = [{"type": "image_url", "image_url": {"url": data_uri(png_bytes())}}, {"type": "text", "text": question}]
    return {"messages": [{"role": "user", "content": parts}], "max_tokens": 12, **extra}


def chunks_of(client, body):
    with client.stream("POST", CHAT, json=body) as r:
        assert r.status_code == 200, r.read()
        lines = [line[6:] for line in "".join(r.iter_text()).splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(x) for x in lines[:-1]]


def test_chat_usage_counts_the_real_tokens(client, pipe):
    body = client.post(CHAT, json=ask()).json()
    inputs = pipe.processor.understanding_inputs([Image.open(io.BytesIO(png_bytes())).convert("RGB")], "What is in the picture?")
    assert body["usage"]["prompt_tokens"] == inputs.input_ids.shape[1]
    ids = pipe.understand_ids(Image.open(io.BytesIO(png_bytes())).convert("RGB"), "What is in the picture?", max_new_tokens=12)
    assert body["usage"]["completion_tokens"] == len(ids)
    assert body["choices"][0]["message"]["content"] == pipe.processor.tokenizer.decode(ids, skip_special_tokens=True)
    assert body["choices"][0]["finish_reason"] == ("length" if len(ids) == 12 else "stop")


def test_chat_finish_reason_length(client, pipe):
    from uniimage.serving.answer import end_ids

    body = client.post(CHAT, json=ask(max_tokens=1)).json()
    (first,) = pipe.understand_ids(Image.open(io.BytesIO(png_bytes())).convert("RGB"), "What is in the picture?",
                                   max_new_tokens=1).tolist()
    ended = first in end_ids(pipe.processor.tokenizer)
    assert body["usage"]["completion_tokens"] == 1
    assert body["choices"][0]["finish_reason"] == ("stop" if ended else "length")


def test_chat_stop_cuts_the_answer_plain_and_streamed(client):
    plain = client.post(CHAT, json=ask(max_tokens=24)).json()["choices"][0]["message"]["content"]
    assert len(plain) >= 4, repr(plain)
    stop = plain[len(plain) // 2 : len(plain) // 2 + 2]
    expected = plain[: plain.find(stop)]
    body = client.post(CHAT, json=ask(max_tokens=24, stop=[stop, "never-said-zz"])).json()
    assert body["choices"][0]["message"]["content"] == expected and body["choices"][0]["finish_reason"] == "stop"
    chunks = chunks_of(client, ask(max_tokens=24, stop=stop, stream=True))
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_seed_makes_sampling_repeatable(client):
    a = client.post(CHAT, json=ask(temperature=1.0, seed=11)).json()["choices"][0]["message"]["content"]
    b = client.post(CHAT, json=ask(temperature=1.0, seed=11)).json()["choices"][0]["message"]["content"]
    assert a == b


def test_chat_stream_chunks_have_openais_exact_shape(client):
    chunks = chunks_of(client, ask(stream=True, stream_options={"include_usage": True}))
    keys = {"id", "object", "created", "model", "system_fingerprint", "choices", "usage"}
    assert all(set(c) == keys for c in chunks)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                     "finish_reason": None}]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] >= 1
    assert chunks[-2]["choices"][0]["delta"] == {} and chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    plain = chunks_of(client, ask(stream=True))
    assert all("usage" not in c for c in plain)


@pytest.mark.parametrize("extra, param", [
    ({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"tools": [{"type": "function"}]}, "tools"),
    ({"response_format": {"type": "json_object"}}, "response_format"), ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"), ({"temperature": -1}, "temperature"),
])
def test_chat_unsupported_fields_are_400(client, extra, param):
    assert_400(client.post(CHAT, json=ask(**extra)), param=param)


def test_chat_neutral_values_pass(client):
    r = client.post(CHAT, json=ask(n=1, frequency_penalty=0, presence_penalty=0.0, logprobs=False, user="u",
                                   response_format={"type": "text"}, model="gpt-4o"))
    assert r.status_code == 200, r.text


class _PNG(BaseHTTPRequestHandler):
    def do_GET(self):
        data = png_bytes((30, 30))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_chat_image_urls_refused_unless_the_host_is_allowed(make_app):
    server = HTTPServer(("127.0.0.1", 0), _PNG)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                      {"type": "text", "text": "what?"}]}], "max_tokens": 2}
    try:
        with TestClient(make_app()) as c:
            assert_400(c.post(CHAT, json=body), "not allowed", "data URI", param="image_url")
        with TestClient(make_app(image_url_hosts=("127.0.0.1",))) as c:
            r = c.post(CHAT, json=body)
            assert r.status_code == 200, r.text
            assert r.json()["usage"]["prompt_tokens"] > 10  # the image's tokens are in the prompt
    finally:
        server.shutdown()
