"""Text-to-image items in GenEval's six categories: prompt, GenEval-style metadata, and the scene
that satisfies it (rendered as the training target, or used only to judge, in evaluation).

Metadata follows GenEval: `include` lists {class, count, color?, position?}; `count` is a minimum;
`position: [relation, j]` means this object is <relation> include[j]; `exclude` {class, count}
means fewer than `count` of that class. In the training split no scene, caption or relation
touches a held-out combination; the heldout split is built only from them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .heldout import HeldOut
from .layout import place_objects, place_pair
from .scene import Scene
from .templates import RELATION_PHRASES, T2I, fill
from .vocab import BACKGROUNDS, CATEGORIES, COLORS, MIRROR, NUMBER_WORDS, PLURALS, SHAPES

# The held-out combinations are colour-shape pairs and position triples, so only the categories
# that name a colour or a relation can carry them.
HELDOUT_CATEGORIES = ("colors", "color_attr", "position", "counting")
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class T2IItem:
    prompt: str
    metadata: dict
    scene: Scene


def _metadata(tag: str, prompt: str, include: list, exclude: list | None = None) -> dict:
    return {"tag": tag, "include": include, "exclude": exclude or [], "prompt": prompt}


def caption_objects(metadata: dict) -> list[dict]:
    """`include` in the order the prompt names the objects: a position prompt ("a X above a Y") lists its
    anchor Y first, as GenEval does (`_position`)."""
    include = list(metadata["include"])
    return include[::-1] if metadata["tag"] == "position" else include


class _Sampler:
    """Draws shapes, colours and layouts for one split, keeping train and heldout apart."""

    def __init__(self, rng: random.Random, split: str, heldout: HeldOut):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.rng, self.split, self.heldout = rng, split, heldout

    @property
    def training(self) -> bool:
        return self.split == "train"

    def color_for(self, shape: str, exclude: tuple = ()) -> str:
        options = self.heldout.allowed_colors(shape) if self.training else list(COLORS)
        return self.rng.choice([c for c in options if c not in exclude])

    def accept(self, objects) -> bool:
        return not (self.training and self.heldout.scene_touches(objects))

    def place(self, specs):
        return place_objects(self.rng, specs, accept=self.accept)

    def place_pair(self, a, relation, b):
        return place_pair(self.rng, a, relation, b, accept=self.accept)

    def scene(self, objects) -> Scene:
        return Scene(tuple(objects), background=self.rng.choice(list(BACKGROUNDS)))

    def two_shapes(self) -> tuple[str, str]:
        a, b = self.rng.sample(SHAPES, 2)
        return a, b

    def held_color_shape(self) -> tuple[str, str]:
        return self.rng.choice(sorted(self.heldout.color_shapes))

    def template(self, category: str) -> str:
        return self.rng.choice(T2I[category])


def _single_object(s: _Sampler) -> T2IItem:
    shape = s.rng.choice(SHAPES)
    prompt = fill(s.template("single_object"), shape=shape)
    meta = _metadata("single_object", prompt, [{"class": shape, "count": 1}])
    return T2IItem(prompt, meta, s.scene(s.place([(shape, s.color_for(shape))])))


def _two_object(s: _Sampler) -> T2IItem:
    a, b = s.two_shapes()
    prompt = fill(s.template("two_object"), shape=a, shape2=b)
    meta = _metadata("two_object", prompt, [{"class": a, "count": 1}, {"class": b, "count": 1}])
    return T2IItem(prompt, meta, s.scene(s.place([(a, s.color_for(a)), (b, s.color_for(b))])))


def _counting(s: _Sampler) -> T2IItem:
    if s.training:
        shape, number, color = s.rng.choice(SHAPES), s.rng.randint(1, 4), None
        specs = [(shape, s.color_for(shape)) for _ in range(number)]
    else:  # held-out colour-shape pair, counted: "three red stars"
        color, shape = s.held_color_shape()
        number = s.rng.randint(2, 4)
        specs = [(shape, color)] * number
    noun = PLURALS[shape] if number > 1 else shape
    if color:
        noun = f"{color} {noun}"
    prompt = fill(s.template("counting"), number=NUMBER_WORDS[number], noun=noun)
    include = {"class": shape, "count": number} | ({"color": color} if color else {})
    meta = _metadata("counting", prompt, [include], [{"class": shape, "count": number + 1}])
    return T2IItem(prompt, meta, s.scene(s.place(specs)))


def _colors(s: _Sampler) -> T2IItem:
    if s.training:
        shape = s.rng.choice(SHAPES)
        color = s.color_for(shape)
    else:
        color, shape = s.held_color_shape()
    prompt = fill(s.template("colors"), color=color, shape=shape)
    meta = _metadata("colors", prompt, [{"class": shape, "count": 1, "color": color}])
    return T2IItem(prompt, meta, s.scene(s.place([(shape, color)])))


def _position(s: _Sampler) -> T2IItem:
    if s.training:
        while True:
            a, b = s.two_shapes()
            relation = s.rng.choice(list(MIRROR))
            if not s.heldout.has_position(a, relation, b):
                break
    else:  # a held-out fact, stated either way round
        a, relation, b = s.rng.choice(sorted(s.heldout.positions))
        if s.rng.random() < 0.5:
            a, relation, b = b, MIRROR[relation], a
    phrase = s.rng.choice(RELATION_PHRASES[relation])
    prompt = fill(s.template("position"), shape=a, shape2=b, relation=phrase)
    include = [{"class": b, "count": 1}, {"class": a, "count": 1, "position": [relation, 0]}]
    objects = s.place_pair((a, s.color_for(a)), relation, (b, s.color_for(b)))
    return T2IItem(prompt, _metadata("position", prompt, include), s.scene(objects))


def _color_attr(s: _Sampler) -> T2IItem:
    if s.training:
        a, b = s.two_shapes()
        color_a = s.color_for(a)
    else:
        color_a, a = s.held_color_shape()
        b = s.rng.choice([shape for shape in SHAPES if shape != a])
    color_b = s.color_for(b, exclude=(color_a,))
    prompt = fill(s.template("color_attr"), color=color_a, shape=a, color2=color_b, shape2=b)
    include = [{"class": a, "count": 1, "color": color_a}, {"class": b, "count": 1, "color": color_b}]
    objects = s.place([(a, color_a), (b, color_b)])
    return T2IItem(prompt, _metadata("color_attr", prompt, include), s.scene(objects))


BUILDERS = {
    "single_object": _single_object,
    "two_object": _two_object,
    "counting": _counting,
    "colors": _colors,
    "position": _position,
    "color_attr": _color_attr,
}


def categories_for(split: str) -> tuple[str, ...]:
    return CATEGORIES if split == "train" else HELDOUT_CATEGORIES


def make_t2i_item(category: str, rng: random.Random, split: str, heldout: HeldOut) -> T2IItem:
    return BUILDERS[category](_Sampler(rng, split, heldout))


def item_rng(seed: int, split: str, task: str, index: int) -> random.Random:
    """One independent stream per item, so item i is the same whatever n is."""
    return random.Random(f"{seed}:{split}:{task}:{index}")


def t2i_items(n: int, split: str, seed: int, heldout: HeldOut) -> list[T2IItem]:
    """Categories are cycled, so any prefix of the list is balanced across them."""
    categories = categories_for(split)
    return [
        make_t2i_item(categories[i % len(categories)], item_rng(seed, split, "t2i", i), split, heldout)
        for i in range(n)
    ]
