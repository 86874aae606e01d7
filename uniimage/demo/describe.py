"""A scene's caption for the image -> caption task: every object named with its colour, counts
grouped ("two red stars"), and for two objects their relative position. Unlike the t2i prompts (which
may leave colours out), this caption is a full reading of the image, so the VLM learns to bind colour,
shape, number and place.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from uniimage.shapes.relations import relations_between
from uniimage.shapes.scene import Scene
from uniimage.shapes.templates import VQA_RELATION
from uniimage.shapes.vocab import NUMBER_WORDS, PLURALS, article

DESCRIBE_PROMPT = "Describe this image."


def _group_phrase(color: str, shape: str, n: int) -> str:
    return f"{article(color)} {color} {shape}" if n == 1 else f"{NUMBER_WORDS[n]} {color} {PLURALS[shape]}"


def _listed(phrases: list[str]) -> str:
    """Phrases as one list: a / a and b / a, b and c; none at all is "an empty picture"."""
    if not phrases:
        return "an empty picture"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe_scene(scene: Scene) -> str:
    objects = scene.objects
    if len(objects) == 2:
        a, b = sorted(objects, key=lambda o: (o.center[0], o.center[1]))  # left one first: deterministic
        relations = relations_between(a, b)
        if relations:
            return f"{_group_phrase(a.color, a.shape, 1)} {VQA_RELATION[relations[0]]} {_group_phrase(b.color, b.shape, 1)}"
    # Groups in order of first appearance from the left, so the sentence reads like the picture.
    ordered = sorted(objects, key=lambda o: o.center[0])
    groups = Counter((o.color, o.shape) for o in ordered)
    phrases = [_group_phrase(color, shape, n) for (color, shape), n in groups.items()]
    return _listed(phrases)


def colours_only(scene: Scene) -> str:
    """The scene's colours and counts with every shape left out ("two red shapes and a blue shape"):
    the colour factor on its own, as the GenEval-style prompts give the shape factor on its own ("a
    photo of a circle"). Without it every colour word the DiT sees comes bound to a shape, and a pair
    held out of training has no colour signal the DiT learnt apart from its shape."""
    groups = Counter(o.color for o in sorted(scene.objects, key=lambda o: o.center[0]))
    phrases = [f"{article(c)} {c} shape" if n == 1 else f"{NUMBER_WORDS[n]} {c} shapes" for c, n in groups.items()]
    return _listed(phrases)


CAPTIONERS = {"describe": describe_scene, "colours": colours_only}


def write_described(src_jsonl, dst_jsonl, captioner: str = "describe") -> int:
    """A copy of a t2i JSONL whose captions are rewritten from each row's scene: `describe`, the full
    descriptions (every object's colour and shape, counts, the relation of two objects; the
    detailed-caption half of the demo's stage-1b data, as the published stage 1 trains on long
    captions), or `colours`, the colours and counts alone. Images are shared (same relative paths)."""
    if captioner not in CAPTIONERS:
        raise ValueError(f"captioner must be one of {sorted(CAPTIONERS)}, got {captioner!r}")
    caption = CAPTIONERS[captioner]
    rows = [json.loads(line) for line in Path(src_jsonl).read_text().splitlines() if line.strip()]
    lines = [json.dumps({**row, "caption": caption(Scene.from_dict(row["meta"]["scene"]))}) for row in rows]
    Path(dst_jsonl).write_text("\n".join(lines) + "\n")
    return len(lines)
