"""`uniimage eval tiif`: the official layout, the run record, resume, sharding, seeds, bad prompt files."""

from __future__ import annotations

import json

import pytest
from tiif_files import DATA, make_tiif_data

FAST = ["--model", "tiny", "--steps", "1", "--no-progress"]


def _pngs(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.png")}


def _expected_paths(model="tiny", lines=None, lengths=("short", "long"), dims=None):
    return {f"{dim}/{model}/{length}_description/{i}.png"
            for dim, rows in DATA.items() if dims is None or dim in dims
            for i in range(len(rows) if lines is None else min(lines, len(rows)))
            for length in lengths}


def test_official_layout_and_run_record(cli, pipe, tmp_path, capsys):
    prompts, questions = make_tiif_data(tmp_path / "data")
    out = tmp_path / "out"
    two = {"2d_spatial_relation", "negation"}
    assert cli(["eval", "tiif", "--prompts", str(prompts), *FAST, "--out", str(out), "--limit", "2",
                "--dimensions", ",".join(two)]) == 0
    assert set(_pngs(out)) == _expected_paths(lines=2, dims=two)
    # Line i of a file is image i: the short and long prompts of every line went in, in order.
    spatial = DATA["2d_spatial_relation"]
    assert pipe.prompts[:4] == [spatial[0][0], spatial[0][1], spatial[1][0], spatial[1][1]]
    assert sorted(pipe.prompts) == sorted(p for d in two for s, lg, _ in DATA[d][:2] for p in (s, lg))
    record = json.loads((out / "tiif_run_tiny.json").read_text())
    assert record["benchmark"] == "tiif" and record["model"] == "tiny"
    assert record["settings"]["steps"] == 1 and record["settings"]["seed"] == 0
    assert record["settings"]["guidance"] == 4.5
    assert record["tiif"]["limit_per_dimension"] == 2 and record["tiif"]["which"] == ["short", "long"]
    assert record["tiif"]["prompt_files"]["2d_spatial_relation"] == {"file": "2d_spatial_relation_prompts.jsonl",
                                                                      "prompts": 3}
    assert sorted(record["tiif"]["prompt_files"]) == sorted(DATA)  # every file, for the judge's check
    assert record["counts"] == {"prompts_selected": 8, "prompts_complete": 8}
    # The next step is printed with the sibling question folder filled in.
    printed = capsys.readouterr().out
    assert f"uniimage eval tiif-judge --eval-prompts {questions.resolve()} --images {out.resolve()}" in printed


def test_model_name_which_and_dimensions(cli, pipe, tmp_path):
    prompts, _ = make_tiif_data(tmp_path / "data")
    out = tmp_path / "out"
    assert cli(["eval", "tiif", "--prompts", str(prompts), *FAST, "--out", str(out), "--model-name", "mine",
                "--which", "long", "--dimensions", "negation,style"]) == 0
    assert set(_pngs(out)) == _expected_paths("mine", lengths=("long",), dims={"negation", "style"})
    assert (out / "tiif_run_mine.json").is_file()


def test_resume_skips_finished_images(cli, pipe, tmp_path):
    prompts, _ = make_tiif_data(tmp_path / "data")
    out = tmp_path / "out"
    args = ["eval", "tiif", "--prompts", str(prompts), *FAST, "--out", str(out), "--dimensions", "negation",
            "--which", "long"]
    assert cli(args) == 0 and pipe.calls == 2
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    pipe.calls = 0
    assert cli(args) == 0 and pipe.calls == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before
    (out / "negation" / "tiny" / "long_description" / "1.png").unlink()
    assert cli(args) == 0
    assert pipe.calls == 1 and pipe.prompts[-1] == DATA["negation"][1][1]
    record = json.loads((out / "tiif_run_tiny.json").read_text())
    assert record["runs"]["0/1"]["counts"]["skipped"] == 1


def test_shards_cover_the_whole_run_and_seeds_follow_the_line(cli, pipe, tmp_path):
    prompts, _ = make_tiif_data(tmp_path / "data")
    whole, sharded, subset = tmp_path / "whole", tmp_path / "sharded", tmp_path / "subset"
    base = ["eval", "tiif", "--prompts", str(prompts), *FAST]
    assert cli([*base, "--out", str(whole), "--dimensions", "negation,style"]) == 0
    for shard in ("0/3", "1/3", "2/3"):
        assert cli([*base, "--out", str(sharded), "--dimensions", "negation,style", "--shard", shard]) == 0
    assert _pngs(sharded) == _pngs(whole)  # same files, same pixels: seeds are per prompt line
    record = json.loads((sharded / "tiif_run_tiny.json").read_text())
    assert sorted(record["runs"]) == ["0/3", "1/3", "2/3"]
    assert [record["runs"][s]["counts"]["generated"] for s in ("0/3", "1/3", "2/3")] == [2, 2, 2]
    # Another selection of dimensions and lengths draws the same image for the same line.
    assert cli([*base, "--out", str(subset), "--dimensions", "negation", "--which", "short"]) == 0
    assert len(_pngs(subset)) == 2 and _pngs(subset).items() <= _pngs(whole).items()


@pytest.mark.parametrize("line, message", [
    ({"type": "negation", "short_description": "x"}, "missing a non-empty string 'long_description'"),
    ({"type": "style", "short_description": "x", "long_description": "y"}, "'type' is 'style', but the file's first"),
    ({"type": "../up", "short_description": "x", "long_description": "y"}, None),
])
def test_bad_prompt_files_are_named(cli, pipe, tmp_path, capsys, line, message):
    prompts, _ = make_tiif_data(tmp_path / "data")
    path = prompts / "negation_prompts.jsonl"
    if line["type"] == "../up":
        path.write_text(json.dumps(line) + "\n")
        message = "cannot be used as a folder name"
    else:
        path.write_text(path.read_text() + json.dumps(line) + "\n")
    assert cli(["eval", "tiif", "--prompts", str(prompts), *FAST, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "negation_prompts.jsonl" in err and message in err
    assert pipe.calls == 0 and not (tmp_path / "out").exists()


def test_unknown_dimension_and_missing_folder(cli, pipe, tmp_path, capsys):
    prompts, _ = make_tiif_data(tmp_path / "data")
    assert cli(["eval", "tiif", "--prompts", str(prompts), *FAST, "--out", str(tmp_path / "o"),
                "--dimensions", "numeracy"]) == 1
    assert "--dimensions: numeracy not in the prompt folder" in capsys.readouterr().err
    assert cli(["eval", "tiif", "--prompts", str(tmp_path / "nope"), *FAST, "--out", str(tmp_path / "o")]) == 1
    assert "prompt folder not found" in capsys.readouterr().err
