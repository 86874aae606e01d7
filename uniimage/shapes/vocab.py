"""The closed vocabulary of ShapesEval: shapes, colours, backgrounds, relations, number words.

Colours are chosen far apart in RGB (pairwise distance >= ~110) and far from the light backgrounds
(>= ~180), so nearest-palette segmentation is unambiguous on clean renders.
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (210, 25, 30),
    "green": (30, 160, 60),
    "blue": (30, 60, 215),
    "yellow": (240, 220, 20),
    "purple": (130, 40, 170),
    "orange": (245, 125, 0),
}

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "lightgrey": (225, 225, 225),
}

# "a left of b" etc.; each relation's mirror states the same fact with the objects swapped.
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
MIRROR: dict[str, str] = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}

PLURALS: dict[str, str] = {shape: shape + "s" for shape in SHAPES}

NUMBER_WORDS: dict[int, str] = {
    0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five",
    6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten",
}

# GenEval's six prompt tags.
CATEGORIES: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


def article(word: str) -> str:
    """'a' or 'an' for the word that follows (only 'orange' needs 'an' in this vocabulary)."""
    return "an" if word[:1] in "aeiou" else "a"
