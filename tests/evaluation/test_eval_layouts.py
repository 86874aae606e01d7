"""Each sampler on the tiny model writes what the official scorers' loaders accept."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PIL import Image

from uniimage.evaluation.prompt_sets import load_dpg, load_geneval

FAST = ["--model", "tiny", "--limit", "2", "--steps", "2", "--no-progress"]


def geneval_scorer_view(root: Path) -> dict[str, tuple[dict, list[str]]]:
    """What djghosh13/geneval's evaluate_images.py reads: digit folders, metadata.jsonl as one JSON object,
    and samples matching r"\\d+\\.png"."""
    seen = {}
    for sub in os.listdir(root):
        folder = root / sub
        if not folder.is_dir() or not sub.isdigit():
            continue
        with open(folder / "metadata.jsonl") as fp:
            metadata = json.load(fp)
        names = sorted(n for n in os.listdir(folder / "samples") if re.match(r"\d+\.png", n))
        seen[sub] = (metadata, names)
    return seen


def test_geneval_layout(cli, pipe, tmp_path, capsys):
    out = tmp_path / "geneval"
    assert cli(["eval", "geneval", *FAST, "--out", str(out)]) == 0
    view = geneval_scorer_view(out)
    assert sorted(view) == ["00000", "00001"]
    tasks = load_geneval()
    for i, key in enumerate(["00000", "00001"]):
        metadata, names = view[key]
        assert names == ["0000.png", "0001.png", "0002.png", "0003.png"]
        assert (out / key / "metadata.jsonl").read_text() == tasks[i].source_line + "\n"
        assert metadata["prompt"] == tasks[i].prompt
        assert Image.open(out / key / "samples" / "0000.png").size == (32, 32)
        assert Image.open(out / key / "grid.png").size == (64, 64)
    assert pipe.prompts == [tasks[0].prompt, tasks[1].prompt]
    printed = capsys.readouterr().out
    assert f"python evaluation/evaluate_images.py {out.resolve()} --outfile" in printed
    assert "summary_scores.py" in printed


def test_dpg_layout_is_a_2x2_grid_per_id(cli, pipe, tmp_path, capsys):
    out = tmp_path / "dpg"
    assert cli(["eval", "dpg", *FAST, "--out", str(out), "--resolution", "32"]) == 0
    ids = [t.key for t in load_dpg()[:2]]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{i}.png" for i in ids)
    for i in ids:
        grid = Image.open(out / f"{i}.png")
        assert grid.size == (64, 64)
        # The scorer crops four R x R tiles; with four different seeds' images they differ.
        tiles = [grid.crop((x, y, x + 32, y + 32)).tobytes() for y in (0, 32) for x in (0, 32)]
        assert len(set(tiles)) == 4
    printed = capsys.readouterr().out
    assert f"--image-root-path {out.resolve()} --resolution 32 --pic-num 4" in printed


def test_dpg_default_resolution_is_the_models(cli, pipe, tmp_path):
    out = tmp_path / "dpg"
    assert cli(["eval", "dpg", *FAST, "--limit", "1", "--out", str(out)]) == 0
    (png,) = out.glob("*.png")
    assert Image.open(png).size == (2 * pipe.default_height, 2 * pipe.default_height)
    assert json.loads((out / "summary.json").read_text())["layout"]["resolution"] == pipe.default_height


def test_edit_layout(cli, pipe, tmp_path):
    src = tmp_path / "set"
    (src / "img").mkdir(parents=True)
    for name, color in [("a.png", "red"), ("b.png", "blue")]:
        Image.new("RGB", (40, 30), color).save(src / "img" / name)
    rows = [
        {"id": "first", "image": "img/a.png", "instruction": "make it green"},
        {"id": "second", "image": ["img/a.png", "img/b.png"], "instruction": "put them side by side"},
    ]
    (src / "edit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "edited"
    assert cli(["eval", "edit", *FAST, "--data", str(src / "edit.jsonl"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["first.png", "second.png"]
    assert pipe.prompts == ["make it green", "put them side by side"]


def test_prompts_file_layout(cli, pipe, tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red cube\n\na blue ball\na green cone\n")
    out = tmp_path / "out"
    assert cli(["eval", "prompts", str(prompts), *FAST, "--out", str(out), "--images-per-prompt", "2"]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == [
        "00000/0000.png", "00000/0001.png", "00001/0000.png", "00001/0001.png"]


def test_summary_records_settings_counts_and_timings(cli, pipe, tmp_path):
    out = tmp_path / "g"
    assert cli(["eval", "geneval", *FAST, "--out", str(out), "--seed", "7", "--guidance", "3.0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmark"] == "geneval" and summary["model"] == "tiny"
    assert summary["settings"]["seed"] == 7 and summary["settings"]["guidance"] == 3.0
    assert summary["settings"]["steps"] == 2 and summary["settings"]["images_per_prompt"] == 4
    assert summary["counts"] == {"prompts_selected": 2, "prompts_complete": 2}
    run = summary["runs"]["0/1"]
    assert run["counts"]["generated"] == 2 and run["counts"]["images"] == 8
    assert run["counts"]["prompts_total"] == 553
    assert run["timings"]["sampling_s"] > 0
