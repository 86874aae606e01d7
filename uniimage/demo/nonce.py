"""Nonce words for the slot stage: colour and shape words replaced by made-up ones with classes of their own.

Why: the slot model holds every training-split colour-shape pair in its query tokens, but a held-out pair
("a red circle": red and circle each seen, never together) comes out garbled (a linear probe reads the first
object's colour and shape at about 0.5 on held-out prompts, 1.0 on unseen training prompts; demo README). A
network that has only ever bound 20 fixed pairs can store them as pairs. Shown many bindings it cannot store
("a dax circle", "a red wug": each nonce word is new in every caption), it has to copy the word in front of
the shape into the colour slot, whatever the pair: the idea of meta-learning compositionality (Lake & Baroni
2023, "Human-like systematic generalization through a meta-learning neural network"). No held-out pair is
ever shown: nonce words pair only with real words or other nonce words.
"""

from __future__ import annotations

import random
import re

from ..shapes.prompts import caption_objects
from ..shapes.vocab import COLORS, SHAPES

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "s", "t", "v", "z", "bl", "dr", "gr", "kl", "sn", "tw")
_VOWELS = ("a", "e", "i", "o", "u")
_CODAS = ("", "b", "d", "g", "k", "p", "x", "z", "m")


def nonce_words(n: int, seed: int) -> tuple[str, ...]:
    """n distinct pronounceable made-up words, none a ShapesEval word (or its plural) nor a common English one."""
    reserved = set(COLORS) | set(SHAPES) | {s + "s" for s in SHAPES} | {
        "a", "an", "and", "the", "of", "bed", "big", "bog", "dog", "fig", "gum", "log", "mud", "nod", "pig", "sad",
        "sum", "tub", "zoo", "bad", "bud", "dig", "fad", "fog", "god", "kid", "lid", "mad", "pod", "tag", "bag", "bob"}
    rng, words = random.Random(f"nonce:{seed}"), []
    while len(words) < n:
        word = rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) + rng.choice(("", "a", "o"))
        if len(word) >= 3 and word not in reserved and word not in words:
            words.append(word)
    return tuple(words)


NONCE_COLOURS = nonce_words(24, seed=0)
NONCE_SHAPES = tuple(w for w in nonce_words(48, seed=1) if w not in NONCE_COLOURS)[:24]


def nonce_caption(caption: str, objects: list[dict], rng: random.Random, share: float = 0.5) -> tuple[str, list[dict]]:
    """The caption with each distinct colour word and each distinct shape word replaced, with probability `share`
    each, by a nonce word (the same one wherever the word recurs); and the objects with "color" / "class" set
    to that nonce word. Plurals keep their "s". Articles are left as they are ("an dax" is fine for a slot)."""
    colours = {o["color"] for o in objects if "color" in o}
    shapes = {o["class"] for o in objects}
    swap_c = {c: w for c, w in zip(sorted(colours), rng.sample(NONCE_COLOURS, len(colours))) if rng.random() < share}
    swap_s = {s: w for s, w in zip(sorted(shapes), rng.sample(NONCE_SHAPES, len(shapes))) if rng.random() < share}

    def word(match: re.Match) -> str:
        w = match.group(0)
        if w in swap_c:
            return swap_c[w]
        stem = w[:-1] if w.endswith("s") and w[:-1] in swap_s else w
        return swap_s[stem] + w[len(stem):] if stem in swap_s else w

    caption = re.sub(r"[a-z]+", word, caption)
    objects = [{**o, "class": swap_s.get(o["class"], o["class"]),
                **({"color": swap_c.get(o["color"], o["color"])} if "color" in o else {})} for o in objects]
    return caption, objects


def row_objects(row: dict) -> list[dict]:
    """A slot-stage row's objects in the order its caption names them: the renamed ones a nonce caption carries
    (`objects`, set by slots.with_nonce_words), else those read from its ShapesEval metadata."""
    return row.get("objects") or caption_objects(row["meta"])
