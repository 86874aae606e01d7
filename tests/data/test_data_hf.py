import pytest
import torch
from datasets import Dataset, DatasetDict, Features, Image, List, Value
from uniimage_data_helpers import corrupt_bytes, png_bytes, truncated_png

from uniimage.data import DataError, HFReader, build_dataset


def img(b):
    return {"bytes": b, "path": None}


GOOD = [png_bytes((32, 24), (0, 255, 0)), png_bytes((40, 40), (0, 0, 255))]
SRC = png_bytes((12, 18), (9, 9, 9))


def save(tmp_path, name, data, features):
    path = tmp_path / name
    Dataset.from_dict(data, features=features).save_to_disk(str(path))
    return path


def test_t2i_columns_with_bad_rows(tmp_path):
    feats = Features({"image": Image(), "caption": Value("string")})
    data = {
        "image": [img(GOOD[0]), img(corrupt_bytes()), img(truncated_png()), None, img(GOOD[1])],
        "caption": ["green", "bad", "bad", "none", "blue"],
    }
    reader = HFReader(save(tmp_path, "t2i", data, feats), 16, shuffle=False)
    samples = list(reader)
    s = reader.stats
    assert [x["caption"] for x in samples] == ["green", "blue"] and [x["key"] for x in samples] == ["0", "4"]
    assert (s.seen, s.yielded, s.skipped_corrupt, s.skipped_missing, s.t2i) == (5, 2, 2, 1, 2)
    assert torch.allclose(samples[1]["target"], torch.tensor([-1.0, -1.0, 1.0]).view(3, 1, 1).expand(3, 16, 16))


def test_gpt_image_edit_layout_caption_list_takes_last(tmp_path):
    feats = Features({"source_image": Image(), "caption": List(Value("string")), "target_image": Image()})
    data = {
        "source_image": [img(SRC), img(SRC)],
        "caption": [["first turn", "make it green"], ["only one"]],
        "target_image": [img(GOOD[0]), img(GOOD[1])],
    }
    dsdict = DatasetDict({"train": Dataset.from_dict(data, features=feats)})
    dsdict.save_to_disk(str(tmp_path / "gie"))
    samples = list(build_dataset({"type": "hf", "path": str(tmp_path / "gie"), "shuffle": False}, 16))
    assert [x["caption"] for x in samples] == ["make it green", "only one"]
    assert all(x["kind"] == "edit" and x["source_images"][0].size == (12, 18) for x in samples)


def test_finetune_layout_prompt_and_absent_source(tmp_path):
    # ShareGPT-4o-Image / BLIP3o-60k style: `prompt`, a list of sources that may be empty or null.
    feats = Features({"source_image": List(Image()), "prompt": Value("string"), "target_image": Image()})
    data = {
        "source_image": [[img(SRC), img(SRC)], [], None],
        "prompt": ["two inputs", "no input", "null input"],
        "target_image": [img(GOOD[0])] * 3,
    }
    samples = list(HFReader(save(tmp_path, "ft", data, feats), 16, shuffle=False))
    assert [(x["caption"], x["kind"], len(x["source_images"])) for x in samples] == [
        ("two inputs", "edit", 2),
        ("no input", "t2i", 0),
        ("null input", "t2i", 0),
    ]


def test_parquet_files_and_relative_paths(tmp_path):
    root = tmp_path / "pq"
    (root / "sub").mkdir(parents=True)
    (root / "g.png").write_bytes(GOOD[0])
    cache = str(tmp_path / "cache")
    # Plain parquet (no HF metadata), a folder of files: image bytes, one empty.
    Dataset.from_dict({"image": [GOOD[1], b""], "caption": ["bytes", "empty"]}).to_parquet(str(root / "sub" / "a.parquet"))
    Dataset.from_dict({"image": [GOOD[0]], "caption": ["second file"]}).to_parquet(str(root / "sub" / "b.parquet"))
    reader = build_dataset({"type": "parquet", "path": str(root / "sub"), "shuffle": False, "cache_dir": cache}, 16)
    samples = list(reader)
    assert [x["caption"] for x in samples] == ["bytes", "second file"]
    assert (reader.stats.seen, reader.stats.skipped_missing) == (3, 1)
    # One file, image paths relative to its folder; type detected from the suffix.
    Dataset.from_dict({"image": ["g.png", "gone.png"], "caption": ["path", "missing"]}).to_parquet(str(root / "p.parquet"))
    one = build_dataset({"type": "auto", "path": str(root / "p.parquet"), "shuffle": False, "cache_dir": cache}, 16)
    assert isinstance(one, HFReader) and [x["caption"] for x in one] == ["path"]
    assert one.stats.skipped_missing == 1


def test_bad_paths_and_columns(tmp_path):
    with pytest.raises(DataError, match="does_not_exist"):
        HFReader(tmp_path / "does_not_exist", 16)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="plain"):
        HFReader(tmp_path / "plain", 16)
    path = save(tmp_path, "nocol", {"caption": ["x"]}, Features({"caption": Value("string")}))
    with pytest.raises(DataError, match="no target image column"):
        HFReader(path, 16)
