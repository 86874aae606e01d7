"""ShapesEval: a GenEval-like benchmark of flat coloured shapes, judged without a detector model.

Deterministic scenes and renders (`scene`, `render`), prompts / edits / VQA in train and
held-out splits (`prompts`, `edits`, `vqa`, `heldout`), training-format writers (`dataset`),
a programmatic scorer (`score`) and the `uniimage eval shapes` entry (`evaluate`).
"""

from .dataset import write_dataset
from .detect import detect_objects
from .heldout import heldout_combinations
from .render import render_scene
from .scene import Scene, ShapeObject
from .score import judge, judge_edit, judge_vqa

__all__ = [
    "Scene", "ShapeObject", "render_scene", "detect_objects", "judge", "judge_edit", "judge_vqa",
    "heldout_combinations", "write_dataset",
]
