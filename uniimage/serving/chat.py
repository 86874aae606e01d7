"""OpenAI chat shape <-> the pipeline's single-turn `understand(images, question)`.

The question is the last user message's text; the images are every image part the user sent in the
conversation, in order; earlier turns go along as text history.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Optional

from PIL import Image

from .encode import decode_data_uri
from .limits import LimitError, Limits
from .schemas import ChatMessage


def _parts(message: ChatMessage):
    if message.content is None:
        return []
    if isinstance(message.content, str):
        return [("text", message.content)]
    out = []
    for part in message.content:
        if part.type == "text":
            if part.text is None:
                raise LimitError("a 'text' content part needs a 'text' field", param="messages")
            out.append(("text", part.text))
        else:
            if part.image_url is None:
                raise LimitError("an 'image_url' content part needs an 'image_url' object", param="messages")
            out.append(("image", part.image_url.url))
    return out


def extract(messages: list[ChatMessage], limits: Limits) -> tuple[list[Image.Image], str, list[dict]]:
    """-> (decoded images, question, earlier turns as text). Decoding is CPU work: run it off the event loop."""
    if len(messages) > limits.max_messages:
        raise LimitError(f"{len(messages)} messages, over the limit of {limits.max_messages}", param="messages")
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise LimitError("'messages' needs at least one user message", param="messages")
    parts = [_parts(m) for m in messages]
    uris = [value for m, ps in zip(messages, parts) if m.role == "user" for kind, value in ps if kind == "image"]
    if len(uris) > limits.max_images_per_edit:
        raise LimitError(
            f"{len(uris)} images sent, over the limit of {limits.max_images_per_edit} (max_images_per_edit)",
            param="messages",
        )
    question = _text(parts[last])
    if not question:
        raise LimitError("the last user message has no text question", param="messages")
    # The model takes one set of images with the final question; earlier turns travel as text.
    history = [{"role": m.role, "content": _text(ps)} for m, ps in zip(messages[:last], parts[:last]) if _text(ps)]
    images = [decode_data_uri(uri, limits) for uri in uris]
    return images, question, history


def _text(parts) -> str:
    return "\n".join(value for kind, value in parts if kind == "text").strip()


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def completion(cid: str, model: str, text: str) -> dict:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }


def chunk_event(cid: str, model: str, delta: dict, finish: Optional[str] = None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def error_event(message: str, kind: str) -> str:
    return f"data: {json.dumps({'error': {'message': message, 'type': kind}})}\n\n"


DONE_EVENT = "data: [DONE]\n\n"
