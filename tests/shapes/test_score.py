"""`judge` accepts ground-truth renders and rejects scenes built wrong on purpose."""

import pytest

from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene, ShapeObject
from uniimage.shapes.score import judge, judge_edit


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_ground_truth_prompts_pass(split):
    items = t2i_items(120, split, seed=5, heldout=heldout_combinations())
    verdicts = [judge(render_scene(item.scene, 64), item.metadata) for item in items]
    failures = [(item.prompt, why) for item, (ok, why) in zip(items, verdicts) if not ok]
    assert len(failures) <= 1, failures


def _image(*objects, size=64):
    return render_scene(Scene(tuple(objects)), size)


RED_CIRCLE_LEFT = ShapeObject("circle", "red", (0.25, 0.5), 0.3)
BLUE_SQUARE_RIGHT = ShapeObject("square", "blue", (0.75, 0.5), 0.3)


def test_wrong_colour_rejected():
    meta = {"tag": "colors", "include": [{"class": "circle", "count": 1, "color": "green"}], "exclude": []}
    ok, reason = judge(_image(RED_CIRCLE_LEFT), meta)
    assert not ok and "green circle" in reason


def test_wrong_count_rejected_both_ways():
    meta = {"tag": "counting", "include": [{"class": "circle", "count": 2}], "exclude": [{"class": "circle", "count": 3}]}
    one = _image(RED_CIRCLE_LEFT)
    two = _image(RED_CIRCLE_LEFT, RED_CIRCLE_LEFT.replace(center=(0.75, 0.5)))
    three = _image(*(RED_CIRCLE_LEFT.replace(center=(x, 0.5), size=0.24) for x in (0.17, 0.5, 0.83)))
    assert judge(two, meta) == (True, "ok")
    assert not judge(one, meta)[0]
    assert not judge(three, meta)[0]


def test_wrong_position_rejected():
    # "a circle left of a square": include[1] (circle) is "left of" include[0] (square).
    meta = {"tag": "position", "include": [{"class": "square", "count": 1}, {"class": "circle", "count": 1, "position": ["left of", 0]}]}
    assert judge(_image(RED_CIRCLE_LEFT, BLUE_SQUARE_RIGHT), meta)[0]
    swapped = _image(RED_CIRCLE_LEFT.replace(center=(0.75, 0.5)), BLUE_SQUARE_RIGHT.replace(center=(0.25, 0.5)))
    assert not judge(swapped, meta)[0]
    stacked = _image(RED_CIRCLE_LEFT.replace(center=(0.5, 0.25)), BLUE_SQUARE_RIGHT.replace(center=(0.5, 0.75)))
    assert not judge(stacked, meta)[0]  # above, not left of


def test_wrong_shape_and_missing_object_rejected():
    meta = {"tag": "two_object", "include": [{"class": "circle", "count": 1}, {"class": "triangle", "count": 1}]}
    ok, reason = judge(_image(RED_CIRCLE_LEFT, BLUE_SQUARE_RIGHT), meta)
    assert not ok and "triangle" in reason


def test_judge_edit():
    target = Scene((RED_CIRCLE_LEFT, BLUE_SQUARE_RIGHT))
    assert judge_edit(render_scene(target, 64), target) == (True, "ok")
    assert not judge_edit(_image(RED_CIRCLE_LEFT), target)[0]  # square missing
    recoloured = _image(RED_CIRCLE_LEFT.replace(color="green"), BLUE_SQUARE_RIGHT)
    assert not judge_edit(recoloured, target)[0]
    moved = _image(RED_CIRCLE_LEFT.replace(center=(0.25, 0.15)), BLUE_SQUARE_RIGHT.replace(center=(0.75, 0.85)))
    ok, reason = judge_edit(moved, target)
    assert not ok and "target place" in reason
    assert judge_edit(render_scene(target, 64), target.to_dict())[0]  # dict form accepted


def test_judge_edit_placed_anywhere():
    """An object whose place the instruction leaves open passes anywhere; the others are still judged."""
    target = Scene((RED_CIRCLE_LEFT, BLUE_SQUARE_RIGHT))
    square_elsewhere = _image(RED_CIRCLE_LEFT, BLUE_SQUARE_RIGHT.replace(center=(0.75, 0.2)))
    ok, reason = judge_edit(square_elsewhere, target)
    assert not ok and "blue square" in reason
    assert judge_edit(square_elsewhere, target, placed_anywhere=(1,)) == (True, "ok")
    circle_moved = _image(RED_CIRCLE_LEFT.replace(center=(0.25, 0.85)), BLUE_SQUARE_RIGHT)
    ok, reason = judge_edit(circle_moved, target, placed_anywhere=(1,))
    assert not ok and "red circle" in reason
    assert not judge_edit(_image(RED_CIRCLE_LEFT), target, placed_anywhere=(1,))[0]  # still has to be there
    with pytest.raises(ValueError, match="placed_anywhere"):
        judge_edit(square_elsewhere, target, placed_anywhere=(2,))
