"""The whole TIIF-Bench loop offline: sample with the tiny model, judge through a live
`uniimage serve --model tiny` subprocess (its /v1/chat/completions), score.

The tiny model answers noise, so the scores are checked against the definitions applied to the answers
the judge actually cached; then the cached replies are rewritten to a known yes/no mix and a rerun
(which must ask nothing) has to score exactly that."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import fmean

import pytest
from tiif_files import DATA, make_tiif_data

from uniimage.evaluation.tiif import parse_yes_no
from uniimage.evaluation.tiif.groups import CATEGORIES

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "uniimage.cli.main", "serve", "--model", "tiny", "--no-ui",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # loading the tiny model on a busy CPU
    while _health(url) is None:
        if proc.poll() is not None:
            raise RuntimeError(f"uniimage serve exited: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("uniimage serve did not come up")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _expected(cache: Path) -> dict:
    """Scores from the cached replies, by the TIIF definitions (written out here on their own)."""
    last = {}
    for line in cache.read_text().splitlines():
        e = json.loads(line)
        last[(e["dimension"], e["length"], e["index"], e["q"])] = e["raw"]
    per_image = {}
    for (dim, length, i, q), raw in last.items():
        expected = DATA[dim][i][2][q][1].lower()
        per_image.setdefault((dim, length, i), []).append(parse_yes_no(raw) == expected)
    dims = {}
    for (dim, length, _), hits in per_image.items():
        dims.setdefault((dim, length), []).append(hits)
    pooled = {k: sum(map(sum, v)) / sum(map(len, v)) for k, v in dims.items()}
    image_mean = {k: fmean(sum(h) / len(h) for h in v) for k, v in dims.items()}
    overall = {}
    for length in ("short", "long"):
        overall[length] = fmean(fmean(pooled[(d, length)] for d in members if (d, length) in pooled)
                                for members in CATEGORIES.values() if any((d, length) in pooled for d in members))
    return {"pooled": pooled, "image_mean": image_mean, "overall": overall}


def _check(summary: dict, want: dict) -> None:
    for (dim, length), score in want["pooled"].items():
        assert summary["dimensions"][dim][length]["score"] == pytest.approx(score)
        assert summary["dimensions"][dim][length]["image_mean"] == pytest.approx(want["image_mean"][(dim, length)])
    for length in ("short", "long"):
        assert summary["overall"][length] == pytest.approx(want["overall"][length])


def test_judge_against_live_uniimage_serve(cli, pipe, server, tmp_path, capsys):
    prompts, questions = make_tiif_data(tmp_path / "data")
    images = tmp_path / "images"
    assert cli(["eval", "tiif", "--prompts", str(prompts), "--model", "tiny", "--out", str(images),
                "--steps", "1", "--limit", "1", "--no-progress"]) == 0
    judge = ["eval", "tiif-judge", "--eval-prompts", str(questions), "--images", str(images), "--model-name", "tiny",
             "--judge-url", f"{server}/v1", "--judge-model", "tiny", "--max-tokens", "3", "--concurrency", "2",
             "--no-progress"]
    jobs_before = _health(server)["jobs_run"]
    assert cli(judge) == 0
    n_questions = sum(len(DATA[d][0][2]) for d in DATA if d != "text") * 2  # line 0 of each, short and long
    assert _health(server)["jobs_run"] - jobs_before == n_questions  # every question went through the server
    results = images / "judge_tiny" / "tiny"
    cache = results / "answers.jsonl"
    entries = [json.loads(line) for line in cache.read_text().splitlines()]
    assert len(entries) == n_questions and {e["dimension"] for e in entries} == {"2d_spatial_relation", "negation",
                                                                                  "style"}
    summary = json.loads((results / "summary.json").read_text())
    _check(summary, _expected(cache))
    assert "text" in summary["skipped"] and summary["counts"]["asked_this_run"] == n_questions
    out = capsys.readouterr().out
    assert "overall (3/9 categories)" in out and "skipped text" in out

    # Rewrite the replies to a known mix; a rerun asks nothing and scores exactly these.
    replies = ["Yes.", "no", "Yes, it is.", "**No**", "not sure"]
    rewritten = [{**e, "raw": replies[k % len(replies)]} for k, e in enumerate(entries)]
    cache.write_text("".join(json.dumps(e) + "\n" for e in rewritten))
    jobs_before = _health(server)["jobs_run"]
    assert cli(judge) == 0
    assert _health(server)["jobs_run"] == jobs_before
    summary = json.loads((results / "summary.json").read_text())
    want = _expected(cache)
    assert any(0 < s < 1 for s in want["pooled"].values())  # the mix makes scores that can be told apart
    _check(summary, want)
    assert summary["counts"]["asked_this_run"] == 0
    rec = json.loads((results / "negation" / "short" / "0.json").read_text())
    assert rec["model_pred"] == [parse_yes_no(e["raw"]) or "unparsed" for e in rewritten
                                 if (e["dimension"], e["length"], e["index"]) == ("negation", "short", 0)]
