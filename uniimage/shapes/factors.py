"""Per-factor verdicts for a text-to-image result: which part of a prompt a wrong image got wrong.

A prompt is right only when every factor is (the `judge` verdict); held-out accuracy then behaves like
the product of the factor accuracies, so a miss is read off this table, not off the overall score.
Each factor is judged on its own, so one failure does not hide another:

    shape     every named shape is drawn (any colour, any number)
    count     every named shape is drawn as many times as asked, and no more where the prompt says so
    colour    every named colour is drawn (on any shape)
    binding   every named colour is on its named shape (colour and shape both right, together)
    position  the named relation holds between objects of the two named shapes (any colour)

A factor the prompt does not name is left out (None), and a share is over the prompts that name it.
"""

from __future__ import annotations

from .detect import Detection, known
from .relations import relation_holds
from .score import POSITION_MARGIN

FACTORS = ("shape", "count", "colour", "binding", "position")


def factor_verdicts(detections: list[Detection], metadata: dict, margin: float = POSITION_MARGIN) -> dict:
    detections = known(detections)
    include = metadata.get("include", [])
    shapes = [d.shape for d in detections]
    colours = {d.color for d in detections}
    coloured = [r for r in include if r.get("color")]
    positioned = [r for r in include if "position" in r]
    counted = [r for r in include if r.get("count", 1) > 1] + list(metadata.get("exclude", []))
    verdicts = {
        "shape": all(r["class"] in shapes for r in include),
        "count": _count_right(shapes, include, metadata.get("exclude", [])) if counted else None,
        "colour": all(r["color"] in colours for r in coloured) if coloured else None,
        "binding": all(any(d.shape == r["class"] and d.color == r["color"] for d in detections) for r in coloured)
        if coloured else None,
        "position": all(_relation_right(r, include, detections, margin) for r in positioned) if positioned else None,
    }
    return verdicts


def _count_right(shapes: list[str], include: list[dict], exclude: list[dict]) -> bool:
    enough = all(shapes.count(r["class"]) >= r.get("count", 1) for r in include)
    return enough and all(shapes.count(e["class"]) < e["count"] for e in exclude)


def _relation_right(requirement: dict, include: list[dict], detections: list[Detection], margin: float) -> bool:
    relation, index = requirement["position"]
    subjects = [d for d in detections if d.shape == requirement["class"]]
    objects = [d for d in detections if d.shape == include[index]["class"]]
    return any(relation_holds(a, b, relation, margin) for a in subjects for b in objects)


def factor_shares(rows: list[dict]) -> dict:
    """Mean of each factor over the images of the rows that name it: {factor: share} (factors no row names
    are left out)."""
    shares = {}
    for factor in FACTORS:
        values = [v for row in rows for v in (row.get("factors") or {}).get(factor, []) if v is not None]
        if values:
            shares[factor] = sum(values) / len(values)
    return shares
