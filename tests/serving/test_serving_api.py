"""Every endpoint with the tiny model through an in-process client, streaming included."""

from __future__ import annotations

import json

from serving_helpers import STEPS, data_uri, decode_b64_png, png_bytes


def generate(client, **fields):
    body = {"prompt": "a red bicycle", "steps": STEPS, **fields}
    return client.post("/v1/images/generations", json=body)


def ask(question="What is in the picture?", images=1, **extra):
    parts = [{"type": "image_url", "image_url": {"url": data_uri(png_bytes())}} for _ in range(images)]
    parts.append({"type": "text", "text": question})
    return {"messages": [{"role": "user", "content": parts}], "max_tokens": 8, **extra}


def test_generation_returns_n_pngs_at_native_size(client, pipe):
    r = generate(client, n=2, seed=7)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seed"] == 7 and len(body["data"]) == 2
    for item in body["data"]:
        img = decode_b64_png(item["b64_json"])
        assert img.format == "PNG"
        assert img.size == (pipe.default_width, pipe.default_height)


def test_generation_same_seed_same_image_and_random_seed_reported(client):
    a = generate(client, seed=123).json()["data"][0]["b64_json"]
    b = generate(client, seed=123).json()["data"][0]["b64_json"]
    assert a == b
    r = generate(client).json()
    assert isinstance(r["seed"], int) and r["seed"] >= 0


def test_generation_other_size_and_extras(client):
    sizes = client.get("/v1/models").json()["data"][0]["sizes"]
    other = sizes[-1]
    r = generate(client, size=other, negative_prompt="blurry", guidance_scale=2.0, model="anything", quality="high")
    assert r.status_code == 200, r.text
    w, h = (int(v) for v in other.split("x"))
    assert decode_b64_png(r.json()["data"][0]["b64_json"]).size == (w, h)


def test_guidance_interval_per_request(client, pipe):
    plain = generate(client, seed=3).json()["data"][0]["b64_json"]
    # (0, 1) covers every step: plain CFG, the same image
    assert generate(client, seed=3, guidance_interval=[0, 1]).json()["data"][0]["b64_json"] == plain
    # guidance only at the least noisy steps: the noisy ones take the conditional prediction alone
    late = generate(client, seed=3, guidance_interval=[0.0, 0.5])
    assert late.status_code == 200, late.text
    assert late.json()["data"][0]["b64_json"] != plain
    files = [("image", ("a.png", png_bytes(), "image/png"))]
    data = {"prompt": "make it blue", "steps": str(STEPS), "seed": "5", "guidance_interval": "0,0.5"}
    assert client.post("/v1/images/edits", data=data, files=files).status_code == 200


def test_a_request_without_an_interval_gets_the_models_default(client, pipe):
    service = client.app.state.service
    assert service.default_guidance_interval is None  # the published behaviour: guidance at every step
    guided = generate(client, seed=4, guidance_interval=[0.0, 0.5]).json()["data"][0]["b64_json"]
    pipe.model.config.guidance_interval = (0.0, 0.5)
    try:
        assert service.default_guidance_interval == (0.0, 0.5)
        assert generate(client, seed=4).json()["data"][0]["b64_json"] == guided
    finally:
        pipe.model.config.guidance_interval = None


def test_edit_with_several_image_parts(client, pipe):
    files = [("image", ("a.png", png_bytes(), "image/png")), ("image[]", ("b.png", png_bytes((20, 20)), "image/png"))]
    data = {"prompt": "make it blue", "steps": str(STEPS), "seed": "5", "image_guidance_scale": "1.2", "n": "2"}
    r = client.post("/v1/images/edits", data=data, files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seed"] == 5 and len(body["data"]) == 2
    assert decode_b64_png(body["data"][0]["b64_json"]).size == (pipe.default_width, pipe.default_height)


def test_chat_completion(client):
    r = client.post("/v1/chat/completions", json=ask())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 1 <= usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # The random tiny model rarely ends its turn: 8 tokens without one is "length".
    expected = "length" if usage["completion_tokens"] == 8 else "stop"
    assert body["choices"][0]["finish_reason"] == expected


def test_chat_text_only_and_multi_turn(client):
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})
    assert r.status_code == 200, r.text
    turns = ask("And the color?")
    turns["messages"] = [
        {"role": "system", "content": "You describe images."},
        {"role": "user", "content": "Describe it."},
        {"role": "assistant", "content": "A red block."},
    ] + turns["messages"]
    r = client.post("/v1/chat/completions", json=turns)
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["choices"][0]["message"]["content"], str)


def parse_sse(text: str):
    events = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_chat_stream_is_server_sent_events_matching_the_plain_answer(client):
    plain = client.post("/v1/chat/completions", json=ask()).json()["choices"][0]["message"]["content"]
    with client.stream("POST", "/v1/chat/completions", json=ask(stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = parse_sse("".join(r.iter_text()))
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == plain  # greedy decoding: the stream and the plain answer agree


def test_models_health_and_openapi(client, pipe):
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == pipe.name_or_path
    status = client.get("/v1/status").json()
    assert status["model_loaded"] is True and status["queue_depth"] == 0
    assert client.get("/health").json() == status  # no key: a loopback-only server, details are fine
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/images/generations", "/v1/images/edits", "/v1/chat/completions", "/v1/models", "/v1/status", "/health"):
        assert path in paths
    assert client.get("/docs").status_code == 200
