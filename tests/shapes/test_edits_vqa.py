"""Edit triples and VQA pairs are consistent with their own scenes, and the judges agree."""

from collections import Counter

from uniimage.shapes.detect import detect_objects
from uniimage.shapes.edits import edit_items
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.render import render_scene
from uniimage.shapes.score import judge_edit
from uniimage.shapes.vqa import vqa_items

HELD = heldout_combinations()


def test_edit_targets_pass_and_sources_fail():
    edits = edit_items(60, "train", seed=1, heldout=HELD)
    assert Counter(e.kind for e in edits) == {"recolor": 15, "add": 15, "remove": 15, "move": 15}
    for edit in edits:
        assert judge_edit(render_scene(edit.target, 64), edit.target)[0], edit.instruction
        assert not judge_edit(render_scene(edit.source, 64), edit.target)[0], edit.instruction  # edit is visible


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
