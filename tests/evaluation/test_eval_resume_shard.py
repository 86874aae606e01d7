"""Resumed runs skip finished prompts; shards split the prompts exactly and draw the same images."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

FAST = ["--model", "tiny", "--limit", "3", "--steps", "2", "--no-progress", "--images-per-prompt", "2"]


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.png")}


def _max_pixel_difference(a, b) -> int:
    fa, fb = sorted(p.relative_to(a) for p in a.rglob("*.png")), sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert fa == fb
    return max(int(np.abs(np.asarray(Image.open(a / f), np.int16) - np.asarray(Image.open(b / f), np.int16)).max())
               for f in fa)


def test_resume_skips_complete_prompts(cli, pipe, tmp_path):
    out = tmp_path / "g"
    assert cli(["eval", "geneval", *FAST, "--out", str(out)]) == 0
    assert pipe.calls == 3
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    pipe.calls = 0
    assert cli(["eval", "geneval", *FAST, "--out", str(out)]) == 0
    assert pipe.calls == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes
    # A half-written prompt (its metadata, written last, missing) is sampled again, alone.
    (out / "00001" / "metadata.jsonl").unlink()
    assert cli(["eval", "geneval", *FAST, "--out", str(out)]) == 0
    assert pipe.calls == 1 and pipe.prompts[-1] == "a photo of a cow"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"]["0/1"]["counts"]["skipped"] == 2


def test_shards_cover_exactly_the_unsharded_run(cli, pipe, tmp_path):
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    assert cli(["eval", "dpg", *FAST, "--out", str(whole)]) == 0
    for shard in ("0/2", "1/2"):
        assert cli(["eval", "dpg", *FAST, "--out", str(sharded), "--shard", shard]) == 0
    assert _files(sharded) == _files(whole)  # same names and, seeds being per prompt, same pixels
    summary = json.loads((sharded / "summary.json").read_text())
    assert sorted(summary["runs"]) == ["0/2", "1/2"]
    assert summary["counts"] == {"prompts_selected": 3, "prompts_complete": 3}
    assert summary["runs"]["0/2"]["counts"]["generated"] == 2
    assert summary["runs"]["1/2"]["counts"]["generated"] == 1


def test_batching_does_not_change_images(cli, pipe, tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    assert cli(["eval", "geneval", *FAST, "--out", str(one), "--no-grid"]) == 0
    assert cli(["eval", "geneval", *FAST, "--out", str(many), "--no-grid", "--batch-size", "3"]) == 0
    # Batched matmuls may round differently; the noise (per-prompt generators) is the same.
    assert _max_pixel_difference(one, many) <= 2


def test_limit_keeps_seeds_of_the_full_set(cli, pipe, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(["eval", "prompts", *_prompt_file(tmp_path), *FAST, "--out", str(a), "--limit", "1"]) == 0
    assert cli(["eval", "prompts", *_prompt_file(tmp_path), *FAST, "--out", str(b)]) == 0
    assert _files(a).items() <= _files(b).items()


def _prompt_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"shape {i}"}) + "\n" for i in range(3)))
    return [str(path)]
