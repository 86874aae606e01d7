import itertools
import json

import numpy as np
import pytest
from PIL import Image

from uniimage.demo.count_layout import PLACES, arranged, write_count_layout
from uniimage.errors import ConfigError
from uniimage.shapes.dataset import write_dataset
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.layout import EDGE_MARGIN, SIZE_RANGE, boxes_clear
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene, ShapeObject
from uniimage.shapes.score import judge
from uniimage.shapes.vocab import COLORS


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("cl")
    write_dataset(out, 80, 0, 0, split="train", image_size=64, formats=("jsonl",))
    return out


@pytest.mark.parametrize("n", sorted(PLACES))
def test_each_arrangement_holds_its_counts_largest_objects_apart_and_inside(n):
    largest = SIZE_RANGE[n][1]
    objects = [ShapeObject("square", "red", c, largest) for c in PLACES[n]]
    assert len(objects) == n
    for o in objects:
        x0, y0, x1, y1 = o.bbox()
        assert min(x0, y0) >= EDGE_MARGIN - 1e-9 and max(x1, y1) <= 1 - EDGE_MARGIN + 1e-9
    assert all(boxes_clear(a, b) for a, b in itertools.combinations(objects, 2))


def test_no_count_stands_on_a_subset_of_another_counts_places():
    for n, m in itertools.permutations(PLACES, 2):
        if n < m:
            assert not set(PLACES[n]) <= set(PLACES[m]), (n, m)


def test_counting_scenes_are_redrawn_in_place_and_the_scorer_counts_them(shapes_data):
    src, dst = shapes_data / "train.jsonl", shapes_data / "train_cl.jsonl"
    counts = write_count_layout(src, dst)
    before, after = _rows(src), _rows(dst)
    assert counts["arranged"] >= 5 and counts["kept"] > 0 and counts["dropped"] == 0
    assert len(after) == len(before) == counts["kept"] + counts["arranged"]
    for was, row in zip(before, after):
        if was["meta"]["tag"] != "counting":
            assert row == was
            continue
        assert row["caption"] == was["caption"] and row["meta"]["include"] == was["meta"]["include"]
        old, new = was["meta"]["scene"]["objects"], row["meta"]["scene"]["objects"]
        assert [tuple(o["center"]) for o in new] == list(PLACES[len(old)])
        assert [(o["shape"], o["color"], o["size"]) for o in new] == [(o["shape"], o["color"], o["size"]) for o in old]
        assert row["image"].startswith("images/count_layout/")
        drawn = Image.open(shapes_data / row["image"]).convert("RGB")
        expected = np.asarray(render_scene(Scene.from_dict(row["meta"]["scene"]), 64))
        assert (np.asarray(drawn) == expected).all()
        ok, why = judge(drawn, row["meta"])
        assert ok, (row["caption"], why)


def test_a_count_without_an_arrangement_and_a_held_out_pair_are_refused_or_dropped(tmp_path):
    five = Scene(tuple(ShapeObject("circle", "red", (0.1 + 0.2 * i, 0.5), 0.1) for i in range(5)))
    with pytest.raises(ConfigError, match="no arrangement for 5 objects"):
        arranged(five)
    held = heldout_combinations()
    shape = "circle"
    colour = next(c for c in COLORS if held.has_color_shape(c, shape))   # the circle's held-out colour
    scene = {"background": "white", "objects": [{"shape": shape, "color": colour, "center": [0.3, 0.3], "size": 0.3},
                                                {"shape": shape, "color": colour, "center": [0.7, 0.7], "size": 0.3}]}
    meta = {"tag": "counting", "include": [{"class": shape, "count": 2}], "exclude": [{"class": shape, "count": 3}],
            "prompt": f"two {shape}s", "scene": scene}
    (tmp_path / "images").mkdir()
    render_scene(Scene.from_dict(scene), 32).save(tmp_path / "images/x.png")
    (tmp_path / "src.jsonl").write_text(json.dumps({"image": "images/x.png", "caption": meta["prompt"], "meta": meta}) + "\n")
    assert write_count_layout(tmp_path / "src.jsonl", tmp_path / "dst.jsonl") == {"kept": 0, "arranged": 0, "dropped": 1}
    assert _rows(tmp_path / "dst.jsonl") == []


def test_rows_without_scene_metadata_and_a_copy_elsewhere_are_refused(shapes_data, tmp_path):
    src = tmp_path / "plain.jsonl"
    src.write_text(json.dumps({"image": "a.png", "caption": "three circles"}) + "\n")
    with pytest.raises(ConfigError, match="row 0 has no ShapesEval scene metadata"):
        write_count_layout(src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(ConfigError, match="must sit beside"):
        write_count_layout(shapes_data / "train.jsonl", tmp_path / "elsewhere.jsonl")


def test_the_command_line_writes_the_copy(shapes_data, capsys):
    from uniimage.cli.demo_count_layout import main

    assert main([str(shapes_data / "train.jsonl"), str(shapes_data / "train_cli.jsonl")]) == 0
    assert "'arranged':" in capsys.readouterr().out
    write_count_layout(shapes_data / "train.jsonl", shapes_data / "train_lib.jsonl")
    assert _rows(shapes_data / "train_cli.jsonl") == _rows(shapes_data / "train_lib.jsonl")
