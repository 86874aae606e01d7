"""The held-out combinations never reach the training split, and make up the heldout split."""

from uniimage.shapes.edits import edit_items
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.relations import relation_holds
from uniimage.shapes.vocab import COLORS, MIRROR, SHAPES
from uniimage.shapes.vqa import vqa_items

HELD = heldout_combinations()


def _mentions_held(text: str) -> bool:
    text = f" {text.lower()} "
    if any(f" {color} {shape}" in text for color, shape in HELD.color_shapes):
        return True
    return any(f" {a} " in text and f" {b}" in text and (f" {a} " + _rel(r)) in text for a, r, b in _all_held_phrasings())


def _rel(relation: str) -> str:
    return relation.split()[0]  # "left", "right", "above", "below"


def _all_held_phrasings():
    for a, relation, b in HELD.positions:
        yield a, relation, b
        yield b, MIRROR[relation], a


def test_heldout_set_is_fixed_and_leaves_every_shape_and_colour_in_training():
    assert heldout_combinations() == heldout_combinations(0)
    assert heldout_combinations(1) != heldout_combinations(0)
    assert len(HELD.color_shapes) == 4 and len(HELD.positions) == 2
    for shape in SHAPES:
        assert len(HELD.allowed_colors(shape)) == len(COLORS) - 1
    assert {color for color, _ in HELD.color_shapes} <= set(COLORS)


def test_training_split_never_touches_heldout():
    items = t2i_items(240, "train", seed=3, heldout=HELD)
    edits = edit_items(80, "train", seed=3, heldout=HELD)
    questions = vqa_items(100, "train", seed=3, heldout=HELD)
    scenes = [i.scene for i in items] + [e.source for e in edits] + [e.target for e in edits] + [q.scene for q in questions]
    assert not any(HELD.scene_touches(scene.objects) for scene in scenes)
    texts = [i.prompt for i in items] + [e.instruction for e in edits] + [q.question for q in questions]
    assert not [text for text in texts if _mentions_held(text)]


def test_heldout_split_is_made_of_heldout_combinations():
    for item in t2i_items(40, "heldout", seed=3, heldout=HELD):
        assert HELD.scene_touches(item.scene.objects), item.prompt
        tag = item.metadata["tag"]
        if tag == "position":
            b, a = item.metadata["include"][0]["class"], item.metadata["include"][1]["class"]
            assert HELD.has_position(a, item.metadata["include"][1]["position"][0], b)
        else:
            first = item.metadata["include"][0]
            assert HELD.has_color_shape(first["color"], first["class"])
    for edit in edit_items(20, "heldout", seed=3, heldout=HELD):
        assert HELD.scene_touches(edit.target.objects) and not HELD.scene_touches(edit.source.objects)
    for question in vqa_items(25, "heldout", seed=3, heldout=HELD):
        assert HELD.scene_touches(question.scene.objects) or question.answer == "no"


def test_items_are_deterministic_and_prefix_stable():
    first = t2i_items(12, "train", seed=9, heldout=HELD)
    assert first == t2i_items(12, "train", seed=9, heldout=HELD)
    assert first[:5] == t2i_items(5, "train", seed=9, heldout=HELD)
    assert first != t2i_items(12, "train", seed=10, heldout=HELD)


def test_position_scenes_state_their_relation_clearly():
    for item in t2i_items(60, "train", seed=4, heldout=HELD):
        if item.metadata["tag"] != "position":
            continue
        target_meta, mover_meta = item.metadata["include"]
        mover = next(o for o in item.scene.objects if o.shape == mover_meta["class"])
        target = next(o for o in item.scene.objects if o.shape == target_meta["class"])
        assert relation_holds(mover, target, mover_meta["position"][0], margin=0.5)
