import json
from collections import Counter

import pytest
from uniimage_data_helpers import png_bytes, write_shards

from uniimage.data import DataError, JsonlReader, MixedStream, WebDatasetReader, build_dataset, detect_type


def manifest(root, prefix, n, with_source=False):
    root.mkdir(parents=True, exist_ok=True)
    (root / "img.png").write_bytes(png_bytes((16, 16)))
    rows = []
    for i in range(n):
        row = {"image": "img.png", "caption": f"{prefix}{i}", "key": f"{prefix}{i}"}
        if with_source:
            row["source_images"] = ["img.png"]
        rows.append(json.dumps(row))
    path = root / f"{prefix}.jsonl"
    path.write_text("\n".join(rows))
    return str(path)


def test_detect_type_and_errors(tmp_path, jsonl_dataset):
    write_shards(tmp_path / "w", 1, 1, bad=False)
    assert detect_type(tmp_path / "w") == "webdataset"
    assert detect_type(str(tmp_path / "w" / "x-{0..3}.tar")) == "webdataset"
    assert detect_type(jsonl_dataset) == "jsonl"
    assert detect_type("a/b.parquet") == "parquet"
    with pytest.raises(DataError, match="does not exist: .*nothing_here"):
        detect_type(tmp_path / "nothing_here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot tell"):
        detect_type(tmp_path / "empty")


def test_build_dataset_types_and_spec_errors(tmp_path, jsonl_dataset):
    write_shards(tmp_path / "w", 1, 2, bad=False)
    assert isinstance(build_dataset({"type": "webdataset", "path": str(tmp_path / "w")}, 8), WebDatasetReader)
    assert isinstance(build_dataset({"path": str(jsonl_dataset)}, 8), JsonlReader)  # type defaults to auto
    with pytest.raises(DataError, match="unknown dataset type"):
        build_dataset({"type": "csv", "path": str(jsonl_dataset)}, 8)
    with pytest.raises(DataError, match="unknown dataset spec keys"):
        build_dataset({"type": "jsonl", "path": str(jsonl_dataset), "shufle": 3}, 8)
    with pytest.raises(DataError, match="missing.jsonl"):
        build_dataset({"type": "jsonl", "path": str(tmp_path / "missing.jsonl")}, 8)
    with pytest.raises(DataError, match="rank"):
        build_dataset({"type": "jsonl", "path": str(jsonl_dataset)}, 8, rank=2, world_size=2)


def test_dropout_from_spec_applies(tmp_path):
    path = manifest(tmp_path, "t", 400)
    ds = build_dataset({"type": "jsonl", "path": path, "cfg_dropout": "t2i"}, 8, seed=0)
    empty = sum(s["caption"] == "" for s in ds)
    assert 20 <= empty <= 65  # p 0.1 of 400: mean 40, sd 6
    assert all(s["caption"] for s in build_dataset({"type": "jsonl", "path": path}, 8))  # off by default


def test_mixture_all_exhausted_is_one_pass_over_each(tmp_path):
    specs = [
        {"type": "jsonl", "path": manifest(tmp_path / "a", "t", 30), "weight": 1.0},
        {"type": "jsonl", "path": manifest(tmp_path / "b", "e", 10, with_source=True), "weight": 3.0},
    ]
    mix = build_dataset(specs, 8, seed=1)
    assert isinstance(mix, MixedStream)
    samples = list(mix)
    keys = [s["key"] for s in samples]
    assert len(keys) == 40 and set(keys) == {f"t{i}" for i in range(30)} | {f"e{i}" for i in range(10)}
    assert Counter(s["kind"] for s in samples) == {"t2i": 30, "edit": 10}
    # Weight 3 on the small set front-loads it: its samples come out earlier on average.
    pos = {k: i for i, k in enumerate(keys)}
    assert sum(pos[f"e{i}"] for i in range(10)) / 10 < sum(pos[f"t{i}"] for i in range(30)) / 30
    assert mix.stats.yielded == 40 and mix.epoch == 1


def test_mixture_infinite_follows_weights(tmp_path):
    specs = [
        {"type": "jsonl", "path": manifest(tmp_path / "a", "t", 5), "weight": 1.0},
        {"type": "jsonl", "path": manifest(tmp_path / "b", "e", 5), "weight": 3.0},
    ]
    mix = build_dataset(specs, 8, seed=2, until="infinite")
    it = iter(mix)
    kinds = Counter(next(it)["key"][0] for _ in range(2000))
    assert abs(kinds["e"] / 2000 - 0.75) < 0.04


def test_mixture_rejects_bad_weights(tmp_path):
    specs = [{"type": "jsonl", "path": manifest(tmp_path / "a", "t", 2), "weight": 0.0}] * 2
    with pytest.raises(DataError, match="weights"):
        build_dataset(specs, 8)
