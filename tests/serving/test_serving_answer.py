"""AnswerStreamer on its own: prompt and answer token counts, stop strings held back, cancellation."""

from __future__ import annotations

import threading

import pytest
import torch

from uniimage.serving.answer import AnswerStreamer, StopAnswer, end_ids
from uniimage.serving.queue import JobCancelled


@pytest.fixture
def tok(pipe):
    return pipe.processor.tokenizer


def feed(streamer, tok, text, prompt_len=7):
    streamer.put(torch.zeros(1, prompt_len, dtype=torch.long))
    for i in tok(text, add_special_tokens=False)["input_ids"]:
        streamer.put(torch.tensor([i]))


def test_counts_and_pieces(tok):
    pieces = []
    s = AnswerStreamer(tok, sink=pieces.append)
    feed(s, tok, "a red circle")
    s.end()
    answer = s.answer(max_new_tokens=100)
    assert "".join(pieces) == "a red circle" == answer.text
    assert answer.prompt_tokens == 7 and answer.completion_tokens == len(tok("a red circle", add_special_tokens=False)["input_ids"])
    assert answer.finish_reason == "stop"
    assert s.answer(max_new_tokens=answer.completion_tokens).finish_reason == "length"


def test_end_of_turn_token_is_stop_not_length(tok):
    s = AnswerStreamer(tok)
    s.put(torch.zeros(1, 3, dtype=torch.long))
    s.put(torch.tensor([next(iter(end_ids(tok)))]))
    s.end()
    assert s.answer(max_new_tokens=1).finish_reason == "stop"


def test_stop_string_is_never_sent_and_ends_generation(tok):
    pieces = []
    s = AnswerStreamer(tok, stop=("circle",), sink=pieces.append)
    with pytest.raises(StopAnswer):
        feed(s, tok, "a red circle and more")
    assert "".join(pieces) == "a red " and s.answer(100).finish_reason == "stop"
    assert all("circ" not in p for p in pieces)


def test_cancelled_client_stops_generation(tok):
    gone = threading.Event()
    s = AnswerStreamer(tok, cancelled=gone)
    s.put(torch.zeros(1, 3, dtype=torch.long))
    s.put(torch.tensor([5]))
    gone.set()
    with pytest.raises(JobCancelled):
        s.put(torch.tensor([6]))
