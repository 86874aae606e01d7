"""Stage 4 training aid for position questions ("is the circle left of the square?"): dense targets for the steps
between the picture and the yes / no.

Why: the tower's tokens carry their place (`cell_supervision.py`, R^2 0.98), yet the answer layers answer
position questions at chance (demo README, "Position questions"). One yes / no bit per question does not show them
the route: find each named shape's tokens, fetch its place, compare the two. These heads ask for each step on the
way: after the first answer layers, each shape word's hidden state names its object's centre; before the last
layer, the question's final token holds the two centres' difference. Like the cell heads they are a training aid
and are not saved.
"""

from __future__ import annotations

import re
import string

import torch
from torch import nn

from uniimage.shapes.templates import VQA
from uniimage.shapes.vocab import SHAPES


def _template_pattern(template: str) -> re.Pattern:
    """A template's text with each {slot} as a named group: the questions are matched by the templates that made
    them, so a changed template cannot silently stop the targets."""
    parts = [re.escape(text) + (f"(?P<{slot}>.+?)" if slot else "") for text, slot, _, _ in string.Formatter().parse(template)]
    return re.compile("^" + "".join(parts) + "$")


POSITION_QUESTIONS = [_template_pattern(t) for t in VQA["position"]]
# Targets in quarter image sides, so a centre's spread is about one unit and the loss weighs like the LM loss.
SCALE = 4.0


def position_targets(example) -> tuple[tuple[str, tuple[float, float]], ...] | None:
    """((shape word, its object's centre) for both named shapes), or None when `example` is not a position
    question about two objects of distinct shapes."""
    match = next((m for p in POSITION_QUESTIONS if (m := p.match(example.prompt))), None)
    objects = example.scene.objects
    if match is None or len(objects) != 2:
        return None
    first, second = match["shape"], match["shape2"]
    by_shape = {o.shape: o.center for o in objects}
    if first == second or {first, second} != set(by_shape) or not set(by_shape) <= set(SHAPES):
        return None
    return (first, by_shape[first]), (second, by_shape[second])


class PositionHeads(nn.Module):
    """Two linear read-outs over layer-normed hidden states: `word` reads a shape word's object centre (x, y) at
    hidden state `word_layer`; `diff` reads (x1 - x2, y1 - y2) at the last prompt token at hidden state
    `diff_layer` (indices into the model's `hidden_states`: 0 is the embeddings, i the input of decoder layer i)."""

    def __init__(self, hidden: int, word_layer: int, diff_layer: int):
        super().__init__()
        if not 0 < word_layer <= diff_layer:
            raise ValueError(f"need 0 < word_layer <= diff_layer, got {word_layer} and {diff_layer}")
        self.word_layer, self.diff_layer = word_layer, diff_layer
        self.word = nn.Linear(hidden, 2)
        self.diff = nn.Linear(hidden, 2)

    def loss(self, hidden_states, input_ids: torch.Tensor, labels: torch.Tensor, examples, tokenizer) -> torch.Tensor:
        """Mean squared error of both read-outs over the batch's position questions (zero when it has none).
        `labels`: the batch's labels (-100 before the answer), so the last prompt token is the one before the first
        label."""
        word_at, word_want, diff_at, diff_want = [], [], [], []  # (row, token) picked, and its target
        for row, example in enumerate(examples):
            targets = position_targets(example)
            if targets is None:
                continue
            answer_start = int((labels[row] != -100).nonzero()[0])
            for shape, centre in targets:
                token = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" " + shape))[-1]
                where = (input_ids[row, :answer_start] == token).nonzero()
                if len(where):  # the word's last occurrence in the prompt: the question's
                    word_at.append((row, int(where[-1])))
                    word_want.append(torch.tensor(centre) * SCALE)
            (_, (x1, y1)), (_, (x2, y2)) = targets
            diff_at.append((row, answer_start - 1))
            diff_want.append(torch.tensor((x1 - x2, y1 - y2)) * SCALE)
        if not diff_at:
            return hidden_states[self.word_layer].sum() * 0.0  # keeps the graph (and every process's all-reduce) the same shape
        loss = self._error(self.diff, hidden_states[self.diff_layer], diff_at, diff_want)
        if word_at:
            loss = loss + self._error(self.word, hidden_states[self.word_layer], word_at, word_want)
        return loss

    @staticmethod
    def _error(head: nn.Linear, hidden: torch.Tensor, at: list[tuple[int, int]], want: list[torch.Tensor]) -> torch.Tensor:
        """Mean squared error of `head` on the layer-normed hidden states at the (row, token) places `at`."""
        rows, tokens = zip(*at)
        picked = hidden[list(rows), list(tokens)]
        out = head(nn.functional.layer_norm(picked, picked.shape[-1:]))
        return nn.functional.mse_loss(out, torch.stack(want).to(out.device, out.dtype))
