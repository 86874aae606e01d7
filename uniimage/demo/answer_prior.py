"""Logit adjustment for the answer stage: train the answer without the words-to-answer prior of the training split.

Why: the training split never shows a held-out colour-shape pair, so "what shape is the red object?" is never
answered "circle" there when red circles are held out. A language model learns that prior from the question
words alone and keeps it against what the image shows: v13 ranks the right shape last among the four for most
held-out shape questions (demo README, "Demo v14"). The held-out split is a shift of exactly that prior,
P(answer | the question's colour / shape words), while P(answer | the question's form) stays. Logit adjustment
(Menon et al. 2021, "Long-tail learning via logit adjustment") is the standard correction for such a shift: add
tau * log of the shifted prior ratio to the logits inside the training loss, so the network need not learn it,
and decode from the raw logits as usual. Here the ratio is P(token | form, words, answer so far) over
P(token | form, answer so far), both counted on the training examples; the words' share of the prior is what
is removed, the form's (which answers a question of this form can have at all) is kept.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import torch

from uniimage.errors import ConfigError
from uniimage.shapes.vocab import COLORS, PLURALS, SHAPES

from .describe import DESCRIBE_PROMPT

_WORDS = sorted(set(COLORS) | set(SHAPES) | set(PLURALS.values()), key=len, reverse=True)
_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b")


def question_key(question: str) -> tuple[str, tuple[str, ...]]:
    """(the question's form with its colour / shape words blanked, those words in order)."""
    return _WORD.sub("{}", question.lower()), tuple(_WORD.findall(question.lower()))


class AnswerPrior:
    """Counts of answer tokens by question form and words, from training examples; `bias` turns them into the
    per-token logit adjustment of one example. `smoothing` pseudo-counts of the form's prior keep a word set
    never seen with a token finite (tau * log(smoothing / n) below zero)."""

    def __init__(self, tokenizer, tau: float = 1.0, smoothing: float = 1.0):
        if tau < 0 or smoothing <= 0:
            raise ConfigError(f"answer prior needs tau >= 0 and smoothing > 0, got tau={tau}, smoothing={smoothing}")
        self.tokenizer, self.tau, self.smoothing = tokenizer, tau, smoothing
        self.by_form: dict[tuple, Counter] = defaultdict(Counter)
        self.by_words: dict[tuple, Counter] = defaultdict(Counter)

    def _answer_ids(self, answer: str) -> list[int]:
        return self.tokenizer(answer + self.tokenizer.eos_token, add_special_tokens=False)["input_ids"]

    def fit(self, examples) -> AnswerPrior:
        for ex in examples:
            if ex.prompt == DESCRIBE_PROMPT:  # a whole caption: no short answer to a worded question
                continue
            form, words = question_key(ex.prompt)
            ids = self._answer_ids(ex.answer)
            for j, token in enumerate(ids):
                prefix = tuple(ids[:j])
                self.by_form[(form, prefix)][token] += 1
                self.by_words[(form, words, prefix)][token] += 1
        return self

    def bias(self, example) -> list[dict[int, float]]:
        """For each answer token position (the closing <|im_end|> included), {token: logit adjustment}; empty
        where nothing is adjusted (captions, forms never counted, tokens no answer of the form starts with)."""
        ids = self._answer_ids(example.answer)
        if example.prompt == DESCRIBE_PROMPT or self.tau == 0:
            return [{} for _ in ids]
        form, words = question_key(example.prompt)
        out = []
        for j in range(len(ids)):
            prefix = tuple(ids[:j])
            marginal = self.by_form.get((form, prefix))
            if not marginal:
                out.append({})
                continue
            joint = self.by_words.get((form, words, prefix), Counter())
            n_form, n_joint = sum(marginal.values()), sum(joint.values())
            adjust = {}
            for token, count in marginal.items():
                p_form = count / n_form
                p_joint = (joint[token] + self.smoothing * p_form) / (n_joint + self.smoothing)
                adjust[token] = self.tau * math.log(p_joint / p_form)
            out.append(adjust)
        return out

    def batch_bias(self, examples, labels: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """[batch, length, vocab] adjustment aligned with `labels` (from `vlm_data.collate`): row t adjusts the
        prediction of token t. Answers sit at the end of each row's labelled span."""
        bias = torch.zeros(*labels.shape, vocab_size)
        for row, ex in enumerate(examples):
            positions = (labels[row] != -100).nonzero().flatten().tolist()
            per_token = self.bias(ex)
            if len(per_token) != len(positions):
                raise ValueError(f"answer {ex.answer!r} has {len(per_token)} tokens but {len(positions)} labelled positions")
            for t, adjust in zip(positions, per_token):
                for token, value in adjust.items():
                    bias[row, t, token] = value
        return bias


def adjusted_lm_loss(logits: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the labelled tokens under logits + bias (logits at t-1 predict token t)."""
    shifted = logits[:, :-1].float() + bias[:, 1:].to(logits.device)
    return torch.nn.functional.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), labels[:, 1:].reshape(-1).to(logits.device),
                                             ignore_index=-100)
