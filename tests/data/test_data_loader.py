"""Batches decoded in DataLoader workers: exact resume (the next batches equal an uninterrupted run's),
per-rank x per-worker sharding, skipped samples summed over workers, a plain-data (JSON) state."""

import json

import pytest
from uniimage_data_helpers import png_bytes, write_shards

from uniimage.data import DataError, build_dataset
from uniimage.data.loader import BatchLoader

DROP = {"mode": "t2i", "t2i_caption_p": 0.5}  # dropout on: its draws must resume too


def wds_spec(tmp_path):
    write_shards(tmp_path / "wds", 4, 5)  # shard 0 also holds a corrupt, a truncated and an image-less record
    return {"type": "webdataset", "path": str(tmp_path / "wds"), "shuffle_buffer": 4, "cfg_dropout": DROP}


def jsonl_spec(tmp_path, n=8):
    root = tmp_path / "j"
    root.mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        (root / f"{i}.png").write_bytes(png_bytes((20, 20), (i * 20, 0, 0)))
        rows.append({"image": f"{i}.png", "caption": f"c{i}", "key": f"k{i}"})
    (root / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return {"type": "jsonl", "path": str(root / "m.jsonl"), "cfg_dropout": DROP}


def mixed_spec(tmp_path):
    return [dict(wds_spec(tmp_path), weight=1.0), dict(jsonl_spec(tmp_path), weight=2.0)]


def loader(spec, workers, rank=0, world=1, batch=3):
    return BatchLoader(build_dataset(spec, 8, seed=3, rank=rank, world_size=world), batch, num_workers=workers)


def summary(batch):
    return list(zip(batch["key"], batch["caption"], batch["target"].flatten(1).sum(1).tolist()))


@pytest.mark.parametrize("make_spec", [wds_spec, jsonl_spec, mixed_spec], ids=lambda f: f.__name__)
def test_workers_resume_at_the_exact_position(tmp_path, make_spec):
    spec = make_spec(tmp_path)
    straight = loader(spec, 2)
    expected = [summary(next(straight)) for _ in range(12)]  # several epochs of every worker
    assert len({k for b in expected for k, _, _ in b}) > 6
    for cut in (1, 5):
        first = loader(spec, 2)
        head = [summary(next(first)) for _ in range(cut)]
        state = json.loads(json.dumps(first.state_dict()))  # plain data: survives JSON
        stats_at_cut = first.stats
        resumed = loader(spec, 2)
        resumed.load_state_dict(state)
        assert resumed.stats == stats_at_cut
        tail = [summary(next(resumed)) for _ in range(12 - cut)]
        assert head + tail == expected, cut


def test_skipped_samples_are_summed_over_workers(tmp_path):
    spec = dict(wds_spec(tmp_path), shuffle=False)  # worker 0: shards 0 and 2 (10 good + 3 bad), worker 1: 1 and 3
    two = loader(spec, 2, batch=2)
    for _ in range(10):  # 5 batches a worker: exactly each worker's first epoch
        next(two)
    s = two.stats
    assert len(two.slot_stats) == 2
    assert s.yielded == 20  # each worker alone made only its own half
    assert s.skipped_corrupt == 2 and s.skipped_invalid == 1  # shard 0's bad records, read by one worker once
    assert s.seen == s.yielded + s.skipped


def test_ranks_and_workers_read_disjoint_slots(tmp_path):
    spec = jsonl_spec(tmp_path, n=8)  # 2 ranks x 2 workers: 4 slots of 2 rows
    keys = []
    for rank in range(2):
        ld = loader(spec, 2, rank=rank, world=2, batch=2)
        keys += [k for _ in range(2) for k in next(ld)["key"]]  # one batch from each worker: its whole slot
    assert sorted(keys) == [f"k{i}" for i in range(8)]


def test_zero_and_two_workers_refuse_each_others_state(tmp_path):
    spec = jsonl_spec(tmp_path)
    zero = loader(spec, 0)
    next(zero)
    with pytest.raises(DataError, match="num_workers=0, this run has 2"):
        loader(spec, 2).load_state_dict(zero.state_dict())


def test_a_worker_error_reaches_the_training_process(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "nope.png", "caption": "x"}\n')
    with pytest.raises(DataError, match="no usable samples"):
        next(loader({"type": "jsonl", "path": str(bad)}, 1))
