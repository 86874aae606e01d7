"""Edit triples and VQA pairs are consistent with their own scenes, and the judges agree."""

from collections import Counter

from uniimage.shapes.detect import detect_objects
from uniimage.shapes.edits import edit_items, edit_metadata, placed_anywhere
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.layout import EDGE_MARGIN, fits
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene
from uniimage.shapes.score import judge_edit
from uniimage.shapes.vqa import vqa_items

HELD = heldout_combinations()


def test_edit_targets_pass_and_sources_fail():
    edits = edit_items(60, "train", seed=1, heldout=HELD)
    assert Counter(e.kind for e in edits) == {"recolor": 15, "add": 15, "remove": 15, "move": 15}
    for edit in edits:
        assert judge_edit(render_scene(edit.target, 64), edit.target)[0], edit.instruction
        assert not judge_edit(render_scene(edit.source, 64), edit.target)[0], edit.instruction  # edit is visible


def test_added_object_is_placed_anywhere():
    """"add" names no place: the new object (last in the target) is judged wherever it lands."""
    edits = edit_items(80, "train", seed=3, heldout=HELD)
    checked = 0
    for edit in edits:
        free = placed_anywhere(edit)
        assert edit_metadata(edit)["placed_anywhere"] == list(free)
        if edit.kind != "add":
            assert free == ()
            continue
        new = edit.target.objects[-1]
        assert free == (len(edit.target.objects) - 1,) and new not in edit.source.objects
        assert f"{new.color} {new.shape}" in edit.instruction
        elsewhere = None
        for x, y in ((0.15, 0.15), (0.85, 0.85), (0.15, 0.85), (0.85, 0.15), (0.5, 0.5)):
            moved = new.replace(center=(x, y))
            if abs(x - new.center[0]) + abs(y - new.center[1]) > 0.5 and fits(moved, edit.source.objects):
                elsewhere = Scene(edit.source.objects + (moved,), edit.target.background)
                break
        if elsewhere is None:
            continue
        image = render_scene(elsewhere, 64)
        assert not judge_edit(image, edit.target)[0]
        assert judge_edit(image, edit.target, placed_anywhere=free)[0], edit.instruction
        checked += 1
    assert checked >= 6  # of the 20 adds, those with room for the new object far from its target place


def test_edit_changes_match_their_kind():
    for edit in edit_items(40, "train", seed=2, heldout=HELD):
        source, target = edit.source.objects, edit.target.objects
        if edit.kind == "add":
            assert len(target) == len(source) + 1
        elif edit.kind == "remove":
            assert len(target) == len(source) - 1
        else:
            assert len(target) == len(source)
            changed = [(s, t) for s, t in zip(source, target) if s != t]
            assert len(changed) == 1
            s, t = changed[0]
            if edit.kind == "recolor":
                assert s.color != t.color and s.center == t.center and edit.instruction.endswith(t.color)
            else:
                assert s.color == t.color and s.center != t.center


def test_vqa_answers_are_true_of_the_rendered_scene():
    items = vqa_items(100, "train", seed=1, heldout=HELD)
    assert Counter(i.kind for i in items) == {"color": 20, "count": 20, "shape": 20, "position": 20, "exists": 20}
    answers = Counter(i.answer for i in items if i.kind in ("position", "exists"))
    assert answers["yes"] > 5 and answers["no"] > 5  # both answers occur
    for item in items:
        found = detect_objects(render_scene(item.scene, 64))
        if item.kind == "color":
            shape = item.question.split("the ")[1].rstrip("?")
            assert [d.color for d in found if d.shape == shape] == [item.answer]
        elif item.kind == "count":
            plural = item.question.split("many ")[-1].split(" ")[0] if "many" in item.question else item.question.split("the ")[1].rstrip(".")
            assert str(sum(d.shape + "s" == plural for d in found)) == item.answer
        elif item.kind == "shape":
            color = next(c for c in ("red", "green", "blue", "yellow", "purple", "orange") if c in item.question)
            assert [d.shape for d in found if d.color == color] == [item.answer]


def test_add_grid_puts_the_added_object_at_a_free_cell_centre_and_leaves_the_rest():
    """Training data option: "add" gets a fixed place (the first free cell of a 4 x 4 grid), which a model can learn;
    every other edit, the random stream and the evaluation's default items are untouched."""
    plain = edit_items(40, "train", seed=5, heldout=HELD)
    placed = edit_items(40, "train", seed=5, heldout=HELD, add_grid=4)
    moved = 0
    for a, b in zip(plain, placed):
        assert (a.kind, a.instruction, a.source) == (b.kind, b.instruction, b.source)
        if a.kind != "add":
            assert a.target == b.target
            continue
        assert a.target.objects[:-1] == b.target.objects[:-1]
        new = b.target.objects[-1]
        assert (new.shape, new.color, new.size) == (a.target.objects[-1].shape, a.target.objects[-1].color, a.target.objects[-1].size)
        taken = {int(o.center[1] * 4) * 4 + int(o.center[0] * 4) for o in b.source.objects}
        low, high = EDGE_MARGIN + new.size / 2, 1 - EDGE_MARGIN - new.size / 2
        # Each coordinate is its cell's centre, or that centre pulled inside the margins for a large object.
        cells = [next(k for k in range(4) if abs(min(high, max(low, (k + 0.5) / 4)) - v) < 1e-9) for v in new.center]
        assert cells[1] * 4 + cells[0] not in taken
        assert fits(new, list(b.source.objects))
        assert judge_edit(render_scene(b.target, 64), b.target, placed_anywhere=placed_anywhere(b))[0]
        moved += new.center != a.target.objects[-1].center
    assert moved >= 5  # 10 adds among 40 edits


def test_add_grid_must_be_positive():
    import pytest

    for grid in (-1, 0):  # 0 is an error too, not a silent "random place"
        with pytest.raises(ValueError, match="add grid must be >= 1"):
            edit_items(4, "train", seed=5, heldout=HELD, add_grid=grid)
