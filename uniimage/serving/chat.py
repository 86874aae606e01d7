"""OpenAI chat shape <-> the pipeline's single-turn `understand(images, question)`.

The question is the last user message's text; the images are every image part the user sent in the
conversation, in order; earlier turns go along as text history.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Optional

from PIL import Image

from .encode import decode_data_uri, fetch_image_url
from .limits import LimitError, Limits
from .schemas import ChatMessage, ChatRequest


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


def check_unsupported(body: ChatRequest) -> None:
    """Fields OpenAI has and this model cannot honour: neutral values pass, anything else is a clear 400."""
    def refuse(param, why):
        raise LimitError(f"'{param}' {why}", param=param)

    if body.n not in (None, 1):
        refuse("n", f"must be 1: one answer per request (got {body.n}); send several requests for several answers")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(body, name) not in (None, 0, 0.0):
            refuse(name, "is not supported (only 0)")
    if body.logprobs or body.top_logprobs:
        refuse("logprobs" if body.logprobs else "top_logprobs", "is not supported")
    if body.logit_bias:
        refuse("logit_bias", "is not supported")
    if body.tools or body.tool_choice not in (None, "none") or body.parallel_tool_calls:
        refuse("tools", "are not supported: this model does not call tools")
    if body.response_format not in (None, {"type": "text"}):
        refuse("response_format", "is not supported: answers are plain text ({'type': 'text'})")
    if body.modalities not in (None, ["text"]):
        refuse("modalities", "must be ['text']: chat answers are text (draw with /v1/images/generations)")
    if body.store:
        refuse("store", "is not supported: this server keeps no conversations")
    if body.reasoning_effort is not None:
        refuse("reasoning_effort", "is not supported: this model does not reason before answering")


def extract(messages: list[ChatMessage], limits: Limits, url_hosts: tuple[str, ...] = ()) -> tuple[list[Image.Image], str, list[dict]]:
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
    # "developer" is OpenAI's newer name for the system turn.
    history = [{"role": "system" if m.role == "developer" else m.role, "content": _text(ps)}
               for m, ps in zip(messages[:last], parts[:last]) if _text(ps)]
    images = [_image(uri, limits, url_hosts) for uri in uris]
    return images, question, history


def _image(url: str, limits: Limits, url_hosts: tuple[str, ...]) -> Image.Image:
    if isinstance(url, str) and url[:8].lower().startswith(("http://", "https://")):
        return fetch_image_url(url, limits, url_hosts)
    return decode_data_uri(url, limits)


def _text(parts) -> str:
    return "\n".join(value for kind, value in parts if kind == "text").strip()


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class Head:
    """What every chunk of one completion repeats."""

    id: str
    model: str
    created: int


def completion(head: Head, answer) -> dict:
    message = {"role": "assistant", "content": answer.text, "refusal": None}
    return {
        "id": head.id,
        "object": "chat.completion",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": answer.usage(),
    }


def _chunk(head: Head, choices: list, **extra) -> str:
    body = {"id": head.id, "object": "chat.completion.chunk", "created": head.created, "model": head.model,
            "system_fingerprint": None, "choices": choices, **extra}
    return f"data: {json.dumps(body)}\n\n"


def chunk_event(head: Head, delta: dict, finish: Optional[str] = None, with_usage: bool = False) -> str:
    """One delta; with `stream_options.include_usage` every chunk carries "usage": null, as OpenAI's do."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _chunk(head, [choice], **({"usage": None} if with_usage else {}))


def usage_event(head: Head, usage: dict) -> str:
    """The last chunk before [DONE] when usage was asked for: no choices, the totals."""
    return _chunk(head, [], usage=usage)


def error_event(message: str, kind: str) -> str:
    return f"data: {json.dumps({'error': {'message': message, 'type': kind}})}\n\n"


DONE_EVENT = "data: [DONE]\n\n"
