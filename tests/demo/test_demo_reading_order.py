import json

import numpy as np
import pytest
from PIL import Image

from uniimage.demo.reading_order import needs_mirror, write_reading_order
from uniimage.errors import ConfigError
from uniimage.shapes.dataset import write_dataset
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import caption_objects
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first_x(row):
    """x of the first- and second-named objects of a two-object row."""
    named = [o["class"] for o in caption_objects(row["meta"])]
    objects = {o["shape"]: o["center"][0] for o in row["meta"]["scene"]["objects"]}
    return objects[named[0]], objects[named[1]]


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ro")
    write_dataset(out, 60, 0, 0, split="train", image_size=32, formats=("jsonl",))
    return out


def test_two_object_scenes_come_out_in_reading_order(shapes_data):
    src, dst = shapes_data / "train.jsonl", shapes_data / "train_ro.jsonl"
    counts = write_reading_order(src, dst)
    before, after = _rows(src), _rows(dst)
    assert counts["mirrored"] > 0 and counts["kept"] > 0
    assert len(after) == counts["kept"] + counts["mirrored"] == len(before) - counts["dropped"]
    pairs = 0
    for row in after:
        meta = row["meta"]
        if len(meta["scene"]["objects"]) != 2 or len(meta["include"]) != 2:
            continue
        fixed = meta["tag"] == "position" and caption_objects(meta)[0]["position"][0] in ("left of", "right of")
        if not fixed:
            first, second = _first_x(row)
            assert first <= second, row["caption"]
            pairs += 1
    assert pairs > 10
    source = {r["image"].rsplit(".", 1)[0].replace("/", "_"): r for r in before}
    for row in after:
        was = source[row["image"].rsplit("/", 1)[-1].rsplit(".", 1)[0]] if "reading_order" in row["image"] else \
            source[row["image"].rsplit(".", 1)[0].replace("/", "_")]
        assert row["caption"] == was["caption"] and row["meta"]["include"] == was["meta"]["include"]
        if row["image"] == was["image"]:
            assert row == was
            continue
        assert row["image"].startswith("images/reading_order/")
        old_x = [o["center"][0] for o in was["meta"]["scene"]["objects"]]
        assert [o["center"][0] for o in row["meta"]["scene"]["objects"]] == pytest.approx([1 - x for x in old_x])
        drawn = np.asarray(Image.open(shapes_data / row["image"]))
        expected = np.asarray(render_scene(Scene.from_dict(row["meta"]["scene"]), 32))
        assert drawn.shape == (32, 32, 3) and (drawn == expected).all()


def test_a_mirror_that_would_show_a_held_out_relation_drops_the_row(tmp_path):
    held = heldout_combinations()
    a, relation, b = next(t for t in sorted(held.positions) if t[1] == "left of")
    colour = {s: next(c for c in held.allowed_colors(s)) for s in (a, b)}
    scene = {"background": "white", "objects": [
        {"shape": a, "color": colour[a], "center": [0.75, 0.5], "size": 0.3},   # named first, drawn on the right:
        {"shape": b, "color": colour[b], "center": [0.25, 0.5], "size": 0.3}]}  # mirrored it would be `a left of b`
    meta = {"tag": "two_object", "include": [{"class": a, "count": 1}, {"class": b, "count": 1}], "exclude": [],
            "prompt": f"a {a} and a {b}", "scene": scene}
    image = "images/x.png"
    (tmp_path / "images").mkdir()
    render_scene(Scene.from_dict(scene), 32).save(tmp_path / image)
    assert needs_mirror(meta, Scene.from_dict(scene))
    (tmp_path / "src.jsonl").write_text(json.dumps({"image": image, "caption": meta["prompt"], "meta": meta}) + "\n")
    counts = write_reading_order(tmp_path / "src.jsonl", tmp_path / "dst.jsonl")
    assert counts == {"kept": 0, "mirrored": 0, "dropped": 1}
    assert _rows(tmp_path / "dst.jsonl") == []


def test_rows_without_scene_metadata_and_a_copy_elsewhere_are_refused(shapes_data, tmp_path):
    src = tmp_path / "plain.jsonl"
    src.write_text(json.dumps({"image": "a.png", "caption": "a circle"}) + "\n")
    with pytest.raises(ConfigError, match="row 0 has no ShapesEval scene metadata"):
        write_reading_order(src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(ConfigError, match="must sit beside"):
        write_reading_order(shapes_data / "train.jsonl", tmp_path / "elsewhere.jsonl")
