"""Training with data in 2 worker processes: a stopped and resumed run equals the straight one, bit for bit."""

import json

from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

from uniimage.training import Trainer


def test_resume_with_data_workers_matches_straight_run(tmp_path, shapes_jsonl):
    fields = {"max_steps": 6, "checkpoint.every": 3, "data.num_workers": 2, "data.prefetch_factor": 3}
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    straight.train()
    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 3, **fields)
    data_state = json.loads((tmp_path / "b" / "checkpoint-3" / "data" / "rank-0.json").read_text())  # plain JSON on disk
    assert set(data_state["slot_stats"]) == {"0", "1"}  # both workers delivered batches
    resumed.train()
    assert_same_trainable(trainable(straight), trainable(resumed))
    assert resumed.batches.stats == straight.batches.stats and straight.batches.stats.yielded == 12
