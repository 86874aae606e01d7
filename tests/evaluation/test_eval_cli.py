"""`uniimage eval` argument handling and errors (no model is loaded for these)."""

from __future__ import annotations

import importlib.util

import pytest

FAST = ["--model", "tiny", "--steps", "2", "--no-progress"]


def test_eval_help_lists_every_sampler(cli, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["eval", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("geneval", "dpg", "edit", "prompts", "shapes"):
        assert name in out


@pytest.mark.parametrize("argv, message", [
    (["eval", "edit", "--data", "nope.jsonl", "--out", "o"], "nope.jsonl"),
    (["eval", "prompts", "nope.txt", "--out", "o"], "prompt file not found"),
    (["eval", "geneval", "--out", "o", "--shard", "3/2"], "--shard"),
    (["eval", "geneval", "--out", "o", "--limit", "0"], "--limit must be at least 1"),
    (["eval", "dpg", "--out", "o", "--images-per-prompt", "5"], "1 to 4 images"),
])
def test_user_errors_exit_1_with_one_line(cli, capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli([*argv[:2], *FAST, *argv[2:]]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_finished_run_does_not_load_the_model(cli, pipe, tmp_path, monkeypatch):
    from uniimage.evaluation import runner

    out = tmp_path / "p"
    (tmp_path / "p.txt").write_text("a\n")
    argv = ["eval", "prompts", str(tmp_path / "p.txt"), *FAST, "--out", str(out)]
    assert cli(argv) == 0

    def fail(*args):
        raise AssertionError("model loaded although every prompt was done")

    monkeypatch.setattr(runner, "load_pipeline", fail)
    assert cli(argv) == 0


def test_shapes_is_forwarded_or_reported(cli, capsys):
    if importlib.util.find_spec("uniimage.shapes.evaluate") is None:
        assert cli(["eval", "shapes", "--model", "tiny"]) == 1
        assert "not in this install" in capsys.readouterr().err
    else:
        with pytest.raises(SystemExit) as exit_:
            cli(["eval", "shapes", "--help"])
        assert exit_.value.code == 0
        assert "uniimage eval shapes" in capsys.readouterr().out
