"""A scene: a background and a list of flat shapes, in resolution-free coordinates.

Centres and sizes are fractions of the image side, so one scene renders at 32, 64 or 128 px alike.
`size` is the side of the shape's bounding box.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .vocab import BACKGROUNDS, COLORS, SHAPES


@dataclass(frozen=True)
class ShapeObject:
    shape: str
    color: str
    center: tuple[float, float]  # (x, y), x to the right, y downwards, in [0, 1]
    size: float  # bounding-box side, fraction of the image side

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {SHAPES}")
        if self.color not in COLORS:
            raise ValueError(f"unknown colour {self.color!r}; expected one of {tuple(COLORS)}")
        if not 0 < self.size <= 1:
            raise ValueError(f"size must be in (0, 1], got {self.size}")
        object.__setattr__(self, "center", (float(self.center[0]), float(self.center[1])))

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in image fractions."""
        half = self.size / 2
        x, y = self.center
        return (x - half, y - half, x + half, y + half)

    def replace(self, **changes) -> "ShapeObject":
        values = asdict(self)
        values.update(changes)
        return ShapeObject(**values)


@dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...] = field(default_factory=tuple)
    background: str = "white"

    def __post_init__(self):
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; expected one of {tuple(BACKGROUNDS)}")
        object.__setattr__(self, "objects", tuple(self.objects))

    def to_dict(self) -> dict:
        return {
            "background": self.background,
            "objects": [
                {"shape": o.shape, "color": o.color, "center": list(o.center), "size": o.size} for o in self.objects
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        objects = [ShapeObject(o["shape"], o["color"], tuple(o["center"]), o["size"]) for o in data["objects"]]
        return cls(objects=tuple(objects), background=data.get("background", "white"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Scene":
        return cls.from_dict(json.loads(text))

    def count(self, shape: str | None = None, color: str | None = None) -> int:
        return sum(1 for o in self.objects if shape in (None, o.shape) and color in (None, o.color))
