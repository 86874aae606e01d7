"""Caption, instruction and question phrasings. Several per kind, so a model cannot key on one
wording; every slot is filled from the closed vocabulary.
"""

from __future__ import annotations

T2I = {
    "single_object": ["a photo of {a_shape}", "{a_shape}", "one {shape}", "an image of {a_shape}", "a single {shape}"],
    "two_object": [
        "a photo of {a_shape} and {a_shape2}",
        "{a_shape} and {a_shape2}",
        "an image showing {a_shape} and {a_shape2}",
        "one {shape} and one {shape2}",
    ],
    "counting": ["a photo of {number} {noun}", "{number} {noun}", "an image with {number} {noun}", "exactly {number} {noun}"],
    "colors": ["a photo of {a_color} {shape}", "{a_color} {shape}", "one {color} {shape}", "an image of {a_color} {shape}"],
    "position": [
        "a photo of {a_shape} {relation} {a_shape2}",
        "{a_shape} {relation} {a_shape2}",
        "an image with {a_shape} {relation} {a_shape2}",
    ],
    "color_attr": [
        "a photo of {a_color} {shape} and {a_color2} {shape2}",
        "{a_color} {shape} and {a_color2} {shape2}",
        "one {color} {shape} and one {color2} {shape2}",
    ],
}

# How a relation reads inside a caption; GenEval writes the bare form ("left of").
RELATION_PHRASES = {
    "left of": ["left of", "to the left of", "on the left of"],
    "right of": ["right of", "to the right of", "on the right of"],
    "above": ["above", "on top of"],
    "below": ["below", "underneath"],
}

EDIT = {
    "recolor": ["make the {shape} {color}", "change the colour of the {shape} to {color}", "turn the {shape} {color}"],
    "add": ["add {a_color} {shape}", "put {a_color} {shape} in the picture", "draw {a_color} {shape} too"],
    "remove": ["remove the {shape}", "delete the {color} {shape}", "take away the {shape}"],
    "move": ["move the {shape} to the {direction}", "shift the {color} {shape} to the {direction}"],
}

VQA = {
    "color": ["what colour is the {shape}?", "what color is the {shape}?", "which colour is the {shape}?"],
    "count": ["how many {noun} are there?", "how many {noun} are in the image?", "count the {noun}."],
    "shape": ["what shape is the {color} object?", "which shape is {color}?"],
    "position": ["is the {shape} {relation} the {shape2}?"],
    "exists": ["is there {a_color} {shape}?", "is there {a_color} {shape} in the image?"],
}

VQA_RELATION = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}


def fill(template: str, **slots: str) -> str:
    """Fill a template; `a_X` slots get the right indefinite article ("an orange", "a star")."""
    from .vocab import article

    extended = dict(slots)
    for key, value in slots.items():
        extended[f"a_{key}"] = f"{article(value)} {value}"
    return template.format(**extended)
