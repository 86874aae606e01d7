"""Normalised matching of short VQA answers: "Red." == "red", "three" == "3", "Circles" == "circle".

A longer answer ("The square is red.") counts when it names the expected answer and no rival of
the same kind (no other colour, number, shape or yes/no), so hedges like "red or blue" fail.
"""

from __future__ import annotations

import re

from .vocab import COLORS, NUMBER_WORDS, PLURALS, SHAPES

_WORD_TO_DIGIT = {word: str(n) for n, word in NUMBER_WORDS.items()}
_SINGULAR = {plural: shape for shape, plural in PLURALS.items()}
_SYNONYMS = {"colour": "color", "violet": "purple", "yep": "yes", "yeah": "yes", "nope": "no", "none": "0"}
_ARTICLES = {"a", "an", "the"}

# Answer kinds: an answer is judged against rivals of the expected answer's own kind.
_KINDS = [set(COLORS), set(SHAPES), {str(n) for n in NUMBER_WORDS}, {"yes", "no"}]


def normalise_tokens(text: str) -> list[str]:
    tokens = re.findall(r"[a-z0-9]+", str(text).lower())
    out = []
    for token in tokens:
        token = _SYNONYMS.get(token, token)
        token = _WORD_TO_DIGIT.get(token, token)
        token = _SINGULAR.get(token, token)
        if token not in _ARTICLES:
            out.append(token)
    return out


def normalise_answer(text: str) -> str:
    return " ".join(normalise_tokens(text))


def judge_vqa(answer_text: str, expected: str) -> tuple[bool, str]:
    answer, target = normalise_answer(answer_text), normalise_answer(expected)
    if answer == target:
        return True, "ok"
    tokens = set(normalise_tokens(answer_text))
    rivals = next((kind - {target} for kind in _KINDS if target in kind), set())
    if target in tokens and rivals and not tokens & rivals:
        return True, "ok (expected answer named in a longer reply)"
    return False, f"expected {target!r}, got {answer!r}"
