"""Question-answer pairs about a rendered scene, with short canonical answers: a colour name, a
shape name, a digit, or yes/no. Training questions never name a held-out combination; heldout
questions are all about one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .heldout import HeldOut
from .layout import place_objects, place_pair
from .prompts import item_rng
from .scene import Scene
from .templates import VQA, VQA_RELATION, fill
from .vocab import BACKGROUNDS, COLORS, MIRROR, PLURALS, SHAPES

VQA_KINDS = ("color", "count", "shape", "position", "exists")
MAX_TRIES = 200


@dataclass(frozen=True)
class VQAItem:
    kind: str
    question: str
    answer: str
    scene: Scene


class _Asker:
    def __init__(self, rng: random.Random, split: str, heldout: HeldOut):
        self.rng, self.split, self.heldout = rng, split, heldout
        self.training = split == "train"

    def colors(self, shape: str, exclude=()) -> list[str]:
        options = self.heldout.allowed_colors(shape) if self.training else list(COLORS)
        return [c for c in options if c not in exclude]

    def accept(self, objects) -> bool:
        return not (self.training and self.heldout.scene_touches(objects))

    def held(self) -> tuple[str, str]:
        return self.rng.choice(sorted(self.heldout.color_shapes))

    def distinct_objects(self, first: tuple[str, str] | None, n: int):
        """Objects with distinct shapes and distinct colours, `first` (colour, shape) included."""
        specs = [(first[1], first[0])] if first else []
        for shape in self.rng.sample([s for s in SHAPES if s not in [sp[0] for sp in specs]], n - len(specs)):
            used = [c for _, c in specs]
            specs.append((shape, self.rng.choice(self.colors(shape, exclude=used))))
        return place_objects(self.rng, specs, accept=self.accept)


def _ask_color(a: _Asker):
    objects = a.distinct_objects(a.held() if not a.training else None, a.rng.randint(1, 3))
    obj = objects[0]
    return fill(a.rng.choice(VQA["color"]), shape=obj.shape), obj.color, objects


def _ask_shape(a: _Asker):
    objects = a.distinct_objects(a.held() if not a.training else None, a.rng.randint(1, 3))
    obj = objects[0]
    return fill(a.rng.choice(VQA["shape"]), color=obj.color), obj.shape, objects


def _ask_count(a: _Asker):
    if a.training:
        shape = a.rng.choice(SHAPES)
        number = a.rng.randint(1, 4)
        specs = [(shape, a.rng.choice(a.colors(shape))) for _ in range(number)]
    else:
        color, shape = a.held()
        number = a.rng.randint(1, 3)
        specs = [(shape, color)] * number
    if number < 4 and a.rng.random() < 0.5:  # a distractor of another shape
        other = a.rng.choice([s for s in SHAPES if s != shape])
        specs.append((other, a.rng.choice(a.colors(other))))
    objects = place_objects(a.rng, specs, accept=a.accept)
    question = fill(a.rng.choice(VQA["count"]), noun=PLURALS[shape])
    return question, str(number), objects


def _ask_position(a: _Asker):
    if a.training:
        while True:
            shape, other = a.rng.sample(SHAPES, 2)
            relation = a.rng.choice(list(MIRROR))
            # Neither the scene's fact nor the question's claim may be held out.
            claims = (relation, MIRROR[relation])  # the true one, and the false one we may ask
            if not any(a.heldout.has_position(shape, r, other) for r in claims):
                break
    else:
        shape, relation, other = a.rng.choice(sorted(a.heldout.positions))
    specs = [(shape, a.rng.choice(a.colors(shape))), (other, a.rng.choice(a.colors(other)))]
    objects = place_pair(a.rng, specs[0], relation, specs[1], accept=a.accept)
    truthful = a.rng.random() < 0.5
    asked = relation if truthful else MIRROR[relation]
    question = fill(a.rng.choice(VQA["position"]), shape=shape, shape2=other, relation=VQA_RELATION[asked])
    return question, "yes" if truthful else "no", objects


def _ask_exists(a: _Asker):
    if a.training:
        shape = a.rng.choice(SHAPES)
        color = a.rng.choice(a.colors(shape))
    else:
        color, shape = a.held()
    present = a.rng.random() < 0.5
    if present:
        objects = a.distinct_objects((color, shape), a.rng.randint(1, 3))
    else:  # same shape in another colour, or other shapes: a near miss
        decoy = [(shape, a.rng.choice(a.colors(shape, exclude=(color,))))] if a.rng.random() < 0.5 else []
        others = [(s, a.rng.choice(a.colors(s))) for s in a.rng.sample([s for s in SHAPES if s != shape], 1)]
        objects = place_objects(a.rng, decoy + others, accept=a.accept)
    question = fill(a.rng.choice(VQA["exists"]), shape=shape, color=color)
    return question, "yes" if present else "no", objects


ASKERS = {"color": _ask_color, "count": _ask_count, "shape": _ask_shape, "position": _ask_position, "exists": _ask_exists}


def make_vqa_item(kind: str, rng: random.Random, split: str, heldout: HeldOut) -> VQAItem:
    question, answer, objects = ASKERS[kind](_Asker(rng, split, heldout))
    return VQAItem(kind, question, answer, Scene(tuple(objects), rng.choice(list(BACKGROUNDS))))


def vqa_items(n: int, split: str, seed: int, heldout: HeldOut) -> list[VQAItem]:
    return [
        make_vqa_item(VQA_KINDS[i % len(VQA_KINDS)], item_rng(seed, split, "vqa", i), split, heldout) for i in range(n)
    ]
