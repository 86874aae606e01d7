"""Programmatic judges, GenEval-style, on top of `detect_objects`.

`judge` checks a t2i image against GenEval metadata: every included class with at least `count`
objects (of the right colour, if one is named), required relative positions (any matching pair,
with a margin), and each excluded class present fewer than `count` times.
`judge_edit` checks an edited image against the target scene (every object, each near its target place,
except an added one: "add a red star" names no place); `judge_vqa` an answer string.
"""

from __future__ import annotations

from collections import Counter

from .answers import judge_vqa  # noqa: F401  (part of this module's interface)
from .detect import Detection, detect_objects, known
from .relations import relation_holds
from .scene import Scene

POSITION_MARGIN = 0.1  # GenEval's threshold: offsets must exceed 0.1 x the objects' mean size
EDIT_POSITION_TOLERANCE = 0.15  # of the image side, between a target object and its detection


def _describe(detections: list[Detection]) -> str:
    return ", ".join(f"{d.color} {d.shape}" for d in detections) or "nothing"


def _check_include(requirement: dict, detections: list[Detection], groups: list, margin: float):
    """Returns (matching detections, failure reason or None)."""
    name, count, color = requirement["class"], requirement.get("count", 1), requirement.get("color")
    candidates = [d for d in detections if d.shape == name]
    if len(candidates) < count:
        return candidates, f"expected {count} {name}(s), found {len(candidates)} (saw {_describe(detections)})"
    if color is not None:
        candidates = [d for d in candidates if d.color == color]
        if len(candidates) < count:
            return candidates, f"expected {count} {color} {name}(s), found {len(candidates)} (saw {_describe(detections)})"
    if "position" in requirement:
        relation, index = requirement["position"]
        targets = groups[index]
        if not any(relation_holds(a, b, relation, margin) for a in candidates for b in targets):
            return candidates, f"no {name} is {relation} the {requirement_name(index, groups)}"
    return candidates, None


def requirement_name(index: int, groups: list) -> str:
    return groups[index][0].shape if groups[index] else "target"


def judge_detections(detections: list[Detection], metadata: dict, margin: float = POSITION_MARGIN):
    detections = known(detections)
    groups: list[list[Detection]] = []
    for requirement in metadata.get("include", []):
        matched, failure = _check_include(requirement, detections, groups, margin)
        if failure:
            return False, failure
        groups.append(matched)
    for exclusion in metadata.get("exclude", []):
        found = sum(1 for d in detections if d.shape == exclusion["class"])
        if found >= exclusion["count"]:
            return False, f"expected fewer than {exclusion['count']} {exclusion['class']}(s), found {found}"
    return True, "ok"


def judge(image, metadata: dict, margin: float = POSITION_MARGIN) -> tuple[bool, str]:
    return judge_detections(detect_objects(image), metadata, margin)


def judge_edit(image, target_scene: Scene, tolerance: float = EDIT_POSITION_TOLERANCE,
               placed_anywhere: tuple[int, ...] = ()) -> tuple[bool, str]:
    """Exactly the target's (colour, shape) multiset, each object near its target position.

    placed_anywhere: indices of target objects whose place is not judged (an "add" instruction names
    no place, so wherever the new object lands is right)."""
    if isinstance(target_scene, dict):
        target_scene = Scene.from_dict(target_scene)
    free = set(placed_anywhere)
    if not free <= set(range(len(target_scene.objects))):
        raise ValueError(f"placed_anywhere {sorted(free)} names objects the target scene "
                         f"({len(target_scene.objects)} objects) does not have")
    detections = known(detect_objects(image))
    wanted = Counter((o.color, o.shape) for o in target_scene.objects)
    found = Counter((d.color, d.shape) for d in detections)
    if wanted != found:
        missing = ", ".join(f"{c} {s}" for c, s in (wanted - found).elements()) or "none"
        extra = ", ".join(f"{c} {s}" for c, s in (found - wanted).elements()) or "none"
        return False, f"objects differ from target: missing {missing}; unexpected {extra}"
    unused = list(detections)
    # Greedy nearest match within each (colour, shape) group; groups are small (<= 4 objects). Objects
    # placed anywhere take what is left once the placed ones are matched (the multisets are equal).
    for index, obj in enumerate(target_scene.objects):
        if index in free:
            continue
        same = [d for d in unused if (d.color, d.shape) == (obj.color, obj.shape)]
        nearest = min(same, key=lambda d: _distance(d.center, obj.center))
        if _distance(nearest.center, obj.center) > tolerance:
            return False, f"{obj.color} {obj.shape} is {_distance(nearest.center, obj.center):.2f} from its target place"
        unused.remove(nearest)
    return True, "ok"


def _distance(p, q) -> float:
    return ((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5
