import json
import logging

import pytest
import torch
from PIL import Image

from uniimage.data import DataError, JsonlReader


def test_counts_and_skips(jsonl_dataset, caplog):
    reader = JsonlReader(jsonl_dataset, image_size=16, shuffle=False)
    with caplog.at_level(logging.WARNING, logger="uniimage.data"):
        samples = list(reader)
    s = reader.stats
    assert [x["key"] for x in samples] == ["t0", "t1", "t2", "t3", "e0", "e1"]
    assert (s.seen, s.yielded, s.t2i, s.edit) == (11, 6, 4, 2)
    assert (s.skipped_corrupt, s.skipped_missing, s.skipped_invalid, s.skipped_too_small) == (2, 1, 2, 0)
    assert s.upscaled == 0  # all images are at least 32 px, over S = 16
    logged = caplog.text
    for key in ("corrupt", "truncated", "missing", "nocaption", "line 4"):
        assert repr(key) in logged


def test_sample_format(jsonl_dataset):
    by_key = {x["key"]: x for x in JsonlReader(jsonl_dataset, image_size=16, shuffle=False)}
    t0, e0, e1 = by_key["t0"], by_key["e0"], by_key["e1"]
    assert t0["kind"] == "t2i" and t0["source_images"] == [] and t0["caption"] == "cap 0"
    assert t0["target"].shape == (3, 16, 16) and t0["target"].dtype == torch.float32
    assert torch.allclose(t0["target"], torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1).expand(3, 16, 16))  # red
    assert e0["kind"] == "edit" and e0["caption"] == "make it red"  # `instruction` field
    assert e1["caption"] == "edit two"  # `prompt` field; single `source_image`
    for e in (e0, e1):
        assert len(e["source_images"]) == 1
        src = e["source_images"][0]
        assert isinstance(src, Image.Image) and src.mode == "RGB" and src.size == (20, 30)  # sources untouched


def test_training_loader_with_collate(jsonl_dataset):
    from torch.utils.data import DataLoader

    from uniimage.data import collate

    batches = list(DataLoader(JsonlReader(jsonl_dataset, 16, seed=3), batch_size=4, collate_fn=collate))
    assert [b["target"].shape[0] for b in batches] == [4, 2]
    assert sorted(k for b in batches for k in b["key"]) == sorted(["t0", "t1", "t2", "t3", "e0", "e1"])


def test_shuffle_is_seeded_and_changes_per_epoch(jsonl_dataset):
    def keys(seed, epoch=0):
        r = JsonlReader(jsonl_dataset, 16, seed=seed)
        r.set_epoch(epoch)
        return [x["key"] for x in r]

    assert keys(1) == keys(1)
    assert sorted(keys(1)) == sorted(keys(2))
    assert len({tuple(keys(1, e)) for e in range(4)}) > 1


def test_missing_manifest_names_path(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl"):
        JsonlReader(tmp_path / "nope.jsonl", 16)


def test_no_usable_samples_raises_naming_path(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    path = tmp_path / "all_bad.jsonl"
    path.write_text(json.dumps({"image": "bad.png", "caption": "x"}) + "\n" + json.dumps({"image": "gone.png", "caption": "y"}) + "\n")
    reader = JsonlReader(path, 16)
    with pytest.raises(DataError, match="all_bad.jsonl"):
        list(reader)
    assert (reader.stats.skipped_corrupt, reader.stats.skipped_missing) == (1, 1)


def test_empty_manifest_raises(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        JsonlReader(tmp_path / "empty.jsonl", 16)


def test_rows_split_over_two_ranks_two_workers(jsonl_dataset, monkeypatch):
    import uniimage.data.stream as stream

    for epoch in range(2):
        seen = []
        for rank in range(2):
            for worker in range(2):
                monkeypatch.setattr(stream, "get_worker_info", lambda w=worker: type("W", (), {"id": w, "num_workers": 2}))
                r = JsonlReader(jsonl_dataset, 16, seed=7, rank=rank, world_size=2)
                r.set_epoch(epoch)
                seen.append([x["key"] for x in r])
        flat = [k for keys in seen for k in keys]
        assert len(flat) == len(set(flat)) == 6 and set(flat) == {"t0", "t1", "t2", "t3", "e0", "e1"}
        assert all(keys for keys in seen)  # 11 rows over 4 slots: everyone gets some usable ones here
