"""Answers token by token in the worker thread: exact usage, `stop` strings, `finish_reason`, cancellation.

A transformers streamer sees the prompt ids first, then every generated id; raising from it ends
`generate` at once, which is how a stop string or a departed client stops the work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from transformers.generation.streamers import BaseStreamer

from .queue import JobCancelled


class StopAnswer(Exception):
    """A stop string appeared: the answer is complete."""


@dataclass
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) | "length" (max_tokens reached)

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


def end_ids(tokenizer) -> set[int]:
    ids = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id, tokenizer.pad_token_id}
    return {i for i in ids if i is not None}


class AnswerStreamer(BaseStreamer):
    def __init__(self, tokenizer, stop: tuple[str, ...] = (), sink: Optional[Callable[[str], Any]] = None,
                 cancelled: Optional[threading.Event] = None):
        self.tokenizer, self.stop, self.sink, self.cancelled = tokenizer, tuple(s for s in stop if s), sink, cancelled
        self.prompt_tokens: Optional[int] = None
        self.ids: list[int] = []
        self.text = ""  # what has been sent: always a prefix of the final answer
        self.stopped = False

    def put(self, value) -> None:
        if self.prompt_tokens is None:  # generate hands over the prompt first
            self.prompt_tokens = int(value.shape[-1])
            return
        if self.cancelled is not None and self.cancelled.is_set():
            raise JobCancelled("the client went away")
        self.ids += value.reshape(-1).tolist()
        self._advance(final=False)
        if self.stopped:
            raise StopAnswer

    def end(self) -> None:
        self._advance(final=True)

    def _advance(self, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cuts = [text.find(s) for s in self.stop if s in text]
        if cuts:
            text, self.stopped, final = text[: min(cuts)], True, True
        if not final:
            text = text[: len(text) - self._held(text)]
        if len(text) > len(self.text) and text.startswith(self.text):
            piece, self.text = text[len(self.text):], text
            if self.sink is not None:
                self.sink(piece)

    def _held(self, text: str) -> int:
        """Characters kept back: an unfinished UTF-8 sequence, or a tail that may start a stop string."""
        held = len(text) - len(text.rstrip("\ufffd"))
        for s in self.stop:
            for k in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:k]):
                    held = max(held, k)
                    break
        return held

    def answer(self, max_new_tokens: int) -> Answer:
        ended = bool(self.ids) and self.ids[-1] in end_ids(self.tokenizer)
        length = not self.stopped and not ended and len(self.ids) >= max_new_tokens
        return Answer(self.text, self.prompt_tokens or 0, len(self.ids), "length" if length else "stop")
