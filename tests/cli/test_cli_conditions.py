"""`python -m uniimage.cli.conditions`: the condition-use figures of a model as JSON, on the tiny preset."""

from __future__ import annotations

import json

from uniimage.cli import conditions
from uniimage.shapes.dataset import write_dataset


def test_prints_loss_gaps_and_the_optional_attribute_and_pair_gaps(tmp_path, capsys):
    write_dataset(tmp_path, 3, 0, 0, split="train", image_size=32, seed=0, formats=("jsonl",))
    assert conditions.main(["tiny", str(tmp_path / "train.jsonl"), "--limit", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"prompt_dependence", "loss"} and set(out["loss"]) == {"right", "shuffled", "empty"}
    assert conditions.main(["tiny", str(tmp_path / "train.jsonl"), "--limit", "3", "--pairs", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["pair_loss"]) == {"binding_right", "binding_swapped", "relation_right", "relation_swapped"}
    assert all(v > 0 for v in out["pair_loss"].values())
