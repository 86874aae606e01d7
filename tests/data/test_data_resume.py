"""Resuming from a saved data position yields exactly the rest of a straight run (one process, no workers)."""

import json

import pytest
from datasets import Dataset, Features, Image, Value
from uniimage_data_helpers import corrupt_bytes, png_bytes, write_image_folder, write_shards

from uniimage.data import DataError, build_dataset

DROP = {"mode": "t2i", "t2i_caption_p": 0.5}  # dropout on, so its RNG must resume too


def webdataset_spec(tmp_path):
    write_shards(tmp_path / "wds", 3, 5)  # includes corrupt / truncated / invalid records
    return {"type": "webdataset", "path": str(tmp_path / "wds"), "shuffle_buffer": 6, "cfg_dropout": DROP}


def jsonl_spec(tmp_path):
    root = tmp_path / "j"
    write_image_folder(root, n_good=6)
    rows = [{"image": f"good{i}.png", "caption": f"c{i}", "key": f"k{i}"} for i in range(6)]
    rows.insert(2, {"image": "corrupt.png", "caption": "x", "key": "bad"})
    (root / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return {"type": "jsonl", "path": str(root / "m.jsonl"), "cfg_dropout": DROP}


def hf_spec(tmp_path):
    imgs = [{"bytes": png_bytes((20, 20), (i * 30, 0, 0)), "path": None} for i in range(7)]
    imgs[3] = {"bytes": corrupt_bytes(), "path": None}
    feats = Features({"image": Image(), "caption": Value("string")})
    Dataset.from_dict({"image": imgs, "caption": [f"c{i}" for i in range(7)]}, features=feats).save_to_disk(str(tmp_path / "hf"))
    return {"type": "hf", "path": str(tmp_path / "hf"), "cfg_dropout": DROP}


def mixed_spec(tmp_path):
    return [dict(jsonl_spec(tmp_path), weight=1.0), dict(hf_spec(tmp_path), weight=2.0)]


SPECS = [webdataset_spec, jsonl_spec, hf_spec, mixed_spec]


def summary(samples):
    return [(s["key"], s["caption"], s["target"].sum().item()) for s in samples]


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


@pytest.mark.parametrize("make_spec", SPECS, ids=lambda f: f.__name__)
def test_resume_mid_epoch_continues_exactly(tmp_path, make_spec):
    spec = make_spec(tmp_path)
    straight_ds = build_dataset(spec, 8, seed=4)
    straight = summary(list(straight_ds)) + summary(list(straight_ds))  # two epochs
    n = len(straight) // 2
    assert n >= 5 and straight[:n] != straight[n:]  # the second epoch is reshuffled
    for k in (1, 3, n - 1):
        first = build_dataset(spec, 8, seed=4)
        head = summary(take(iter(first), k))
        state = json.loads(json.dumps(first.state_dict()))  # must survive a JSON round trip
        resumed = build_dataset(spec, 8, seed=4)
        resumed.load_state_dict(state)
        tail = summary(list(resumed)) + summary(list(resumed))
        assert head + tail == straight, k


def test_resume_at_epoch_boundary_and_stats(tmp_path):
    spec = jsonl_spec(tmp_path)
    ds = build_dataset(spec, 8, seed=0)
    epoch0 = summary(list(ds))
    state = ds.state_dict()
    assert (state["epoch"], state["position"]) == (1, 0) and state["stats"]["skipped_corrupt"] == 1
    resumed = build_dataset(spec, 8, seed=0)
    resumed.load_state_dict(state)
    assert resumed.stats.skipped_corrupt == 1
    epoch1 = summary(list(resumed))
    keys0, keys1 = [x[0] for x in epoch0], [x[0] for x in epoch1]
    assert sorted(keys1) == sorted(keys0) and keys1 != keys0  # same samples, new order
    assert summary(list(ds)) == epoch1


def test_state_from_another_seed_is_refused(tmp_path):
    spec = jsonl_spec(tmp_path)
    state = build_dataset(spec, 8, seed=1).state_dict()
    with pytest.raises(DataError, match="seed"):
        build_dataset(spec, 8, seed=2).load_state_dict(state)
