"""Edit cell slots (uniimage/demo/edit_cells.py and the slot stage's --edits): targets per grid cell of the target
scene, the heads' loss and whole-scene score, the attention losses' indexing, and a few slot steps with edits."""

import json

import pytest
import torch

from uniimage.demo.edit_cells import (CELL_HEAD, CLASSES, EMPTY, EditCellHeads, cell_attention_loss, cell_of,
                                      cell_targets, changed_object, changed_word_loss, image_positions, read_edits)
from uniimage.errors import ConfigError
from uniimage.shapes.scene import Scene, ShapeObject
from uniimage.shapes.vocab import COLORS, SHAPES


def _scene(*objects):
    return Scene(tuple(ShapeObject(s, c, xy, 0.2) for s, c, xy in objects), "white")


def test_each_object_lands_in_the_cell_of_its_centre_with_its_half_cell():
    assert cell_of((0.1, 0.1), 4) == (0, pytest.approx(0.4), pytest.approx(0.4))
    assert cell_of((0.9, 0.3), 4)[0] == 4 + 3   # row 1, column 3
    assert cell_of((1.0, 1.0), 4)[0] == 15      # the far edge stays in the last cell
    t = cell_targets([_scene(("star", "red", (0.9, 0.3)), ("circle", "blue", (0.1, 0.9)))], 4)
    assert t["shape"][0, 7] == SHAPES.index("star") and t["colour"][0, 7] == list(COLORS).index("red")
    assert t["x_half"][0, 7] == 1 and t["y_half"][0, 7] == 0    # 0.9 * 4 - 3 = 0.6 across, 0.3 * 4 - 1 = 0.2 down
    assert t["shape"][0, 12] == SHAPES.index("circle") and t["x_half"][0, 12] == 0 and t["y_half"][0, 12] == 1
    empty = [c for c in range(16) if c not in (7, 12)]
    for k in CLASSES:
        assert (t[k][0, empty] == EMPTY[k]).all()


def test_the_changed_object_is_the_new_one_and_none_for_a_removal():
    src = _scene(("star", "red", (0.2, 0.2)), ("circle", "blue", (0.7, 0.7)))
    recoloured = _scene(("star", "green", (0.2, 0.2)), ("circle", "blue", (0.7, 0.7)))
    assert changed_object(src, recoloured).color == "green"
    assert changed_object(src, _scene(("circle", "blue", (0.7, 0.7)))) is None


def test_heads_learn_planted_cells_and_count_whole_scenes():
    torch.manual_seed(0)
    scenes = [_scene(("star", "red", (0.1 + 0.8 * (i % 2), 0.6))) for i in range(8)]
    targets = cell_targets(scenes, 2)
    # states that carry the answer: one-hot of the cell's shape class, per token
    states = torch.nn.functional.one_hot(targets["shape"] * 3 + targets["x_half"], 16).float()
    states = states.unsqueeze(0).repeat(2, 1, 1, 1)  # 2 depths, [8, 4 cells, 16]
    heads = EditCellHeads(16)
    before = heads.loss(states, targets).item()
    opt = torch.optim.Adam(heads.parameters(), lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        heads.loss(states, targets).backward()
        opt.step()
    assert heads.loss(states, targets).item() < before / 10
    kinds = ["add", "move"] * 4
    acc = heads.accuracy(states, targets, kinds)
    assert acc["shape"] == 1.0 and acc["empty"] == 1.0 and acc["whole"] == 1.0
    assert acc["whole_add"] == 1.0 and acc["whole_move"] == 1.0
    # a wrong y half in one row costs that row's whole scene, not its shape
    wrong = {k: v.clone() for k, v in targets.items()}
    cell = int((wrong["shape"][0] != EMPTY["shape"]).nonzero()[0])
    wrong["y_half"][0, cell] = 1 - wrong["y_half"][0, cell]
    acc = heads.accuracy(states, wrong, kinds)
    assert acc["whole"] == pytest.approx(7 / 8) and acc["whole_add"] == pytest.approx(3 / 4) and acc["shape"] == 1.0


def test_attention_losses_read_the_right_query_token_and_word():
    b, heads, t = 2, 3, 12
    queries = torch.tensor([[8, 9, 10, 11]] * b)
    images = torch.tensor([[2, 3, 4, 5]] * b)
    sharp = torch.full((b, heads, t, t), 1e-9)
    for q in range(4):
        sharp[:, CELL_HEAD, 8 + q, 2 + q] = 1.0
    assert cell_attention_loss({0: sharp}, queries, images).item() == pytest.approx(0.0, abs=1e-5)
    shifted = torch.roll(sharp, 1, dims=-1)
    assert cell_attention_loss({0: shifted}, queries, images).item() > 10

    class Words:  # a tokenizer with one token per word
        vocab = {"make": 1, "the": 2, "star": 3, "green": 4}

        def encode(self, text, add_special_tokens=False):
            return [self.vocab[w] for w in text.split()]

    ids = torch.zeros(b, 16, dtype=torch.long)
    ids[:, 6:10] = torch.tensor([1, 2, 3, 4])   # "make the star green" at 6-9; the 4 queries at 12-15
    queries = torch.tensor([[12, 13, 14, 15]] * b)
    src = _scene(("star", "red", (0.2, 0.2)))
    dst = _scene(("star", "green", (0.2, 0.2)))   # cell 0 of a 2 x 2 grid
    edits = [{"source": src, "target": dst}, {"source": src, "target": _scene()}]  # a recolour, a removal
    att = torch.full((b, heads, 16, 16), 1e-9)
    att[0, 0, 12, 9] = 1.0   # head 0 of cell 0's query on "green"
    att[0, 1, 12, 8] = 1.0   # head 1 on "star"
    assert changed_word_loss({0: att}, queries, Words(), ids, edits, 2).item() == pytest.approx(0.0, abs=1e-5)
    att[0, 0, 12, 9], att[0, 0, 12, 7] = 1e-9, 1.0   # head 0 on "the" instead
    assert changed_word_loss({0: att}, queries, Words(), ids, edits, 2).item() > 5
    assert changed_word_loss({0: att}, queries, Words(), ids, edits[1:], 2).item() == 0.0  # a removal writes no word


def test_image_positions_need_one_image_of_a_token_per_cell():
    ids = torch.tensor([[5, 7, 7, 7, 7, 1], [7, 7, 7, 7, 0, 0]])
    assert image_positions(ids, 7, 4).tolist() == [[1, 2, 3, 4], [0, 1, 2, 3]]
    with pytest.raises(ValueError, match="one image of 9 tokens"):
        image_positions(ids, 7, 9)


@pytest.fixture(scope="module")
def edit_data(tmp_path_factory):
    from uniimage.shapes.dataset import write_dataset

    out = tmp_path_factory.mktemp("edits")
    write_dataset(out, 0, 8, 0, split="train", image_size=32, formats=("jsonl",), edit_add_grid=2)
    return out / "train.jsonl"


def test_read_edits_takes_the_scenes_and_names_bad_rows(edit_data, tmp_path):
    edits = read_edits(edit_data, 4)
    assert len(edits) == 8 and {e["kind"] for e in edits} == {"recolor", "add", "remove", "move"}
    assert all(isinstance(e["target"], Scene) and e["instruction"] for e in edits)
    with pytest.raises(ConfigError, match="fewer than the edit batch of 99"):
        read_edits(edit_data, 99)
    with pytest.raises(ConfigError, match="does not exist"):
        read_edits(tmp_path / "nope.jsonl", 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"caption": "x", "meta": {"task": "edit", "instruction": "x"}}) + "\n")
    with pytest.raises(ConfigError, match="line 1 is an edit without"):
        read_edits(bad, 1)


def test_slot_steps_with_edits_train_cell_heads_and_record_them(bases, demo_data, edit_data, tmp_path):
    from tests.demo.test_demo_slots import _config
    from uniimage.demo.slots import train_slots

    config = _config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "cells", max_steps=4,
                     **{"model.overrides.num_metaqueries": 4})
    # the test bases' text layers have 2 heads, so the cell head (2) does not exist: attention off here (the
    # losses' indexing is tested above on planted weights)
    report = train_slots(config, log_every=1, sides=True, edits=edit_data, edit_batch=3)
    assert report["edit_cells"] is True and report["edit_batch"] == 3 and report["attend_cell"] == 0.0
    assert all(e["edit_cell_loss"] > 0 and e["edit_attention_loss"] == 0 for e in report["log"])
    scored = report["log"][-1]["edit_cells"]   # every 4th log line and the last: 200 fresh edits, 2 x 2 cells
    assert set(scored) >= {"shape", "colour", "x_half", "y_half", "empty", "whole", "whole_add", "whole_move"}
    saved = json.loads((tmp_path / "cells" / "slots_report.json").read_text())
    assert saved["edits"] == str(edit_data)


def test_edit_cells_refuse_what_they_cannot_train(bases, demo_data, edit_data, tmp_path):
    from tests.demo.test_demo_slots import _config
    from uniimage.demo.slots import train_slots

    with pytest.raises(ConfigError, match="square number of query tokens"):  # 6 queries
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "a"), edits=edit_data)
    with pytest.raises(ConfigError, match="needs edits"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "b"), attend_cell=0.2)
    with pytest.raises(ConfigError, match="edit_batch must be"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "c"), edits=edit_data,
                    edit_batch=0)
    four = {"model.overrides.num_metaqueries": 4}
    with pytest.raises(ConfigError, match="trains attention head 2 .* have 2 heads"):
        train_slots(_config(bases[0], tmp_path, demo_data / "train.jsonl", out=tmp_path / "d", **four), edits=edit_data,
                    attend_cell=0.2)
    assert not any((tmp_path / d).exists() for d in "abcd")
