import json

import pytest
from uniimage_data_helpers import corrupt_bytes, write_shards

import uniimage.cli.main as cli_main


@pytest.fixture
def run(monkeypatch, capsys):
    # Other subcommand modules are written in parallel: build the parser from ours alone.
    monkeypatch.setattr(cli_main, "COMMANDS", ["data"])

    def go(*argv):
        code = cli_main.main(["data", "check", *map(str, argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return go


def test_data_is_registered():
    assert "data" in cli_main.COMMANDS


def test_check_jsonl_counts(run, jsonl_dataset):
    code, out, _ = run(jsonl_dataset, "--image-size", 16)
    assert code == 0
    for line in ("total: 11", "ok: 6 (t2i 4, edit 2; upscaled 0)", "missing: 1", "corrupt: 2", "too small: 0", "invalid: 2"):
        assert line in out, (line, out)


def test_check_min_size_and_upscale(run, jsonl_dataset):
    # Every target is 32 px on its short side; min_size applies to targets only.
    code, out, _ = run(jsonl_dataset, "--image-size", 64, "--min-size", 32)
    assert code == 0 and "too small: 0" in out and "ok: 6 (t2i 4, edit 2; upscaled 6)" in out
    code, out, err = run(jsonl_dataset, "--image-size", 64, "--min-size", 33)
    assert code == 1 and "too small: 6" in out and "ok: 0" in out and "no usable samples" in err


def test_check_webdataset_auto_and_explicit(run, tmp_path):
    write_shards(tmp_path, 2, 3)
    for argv in ((tmp_path,), (tmp_path / "shard-{000..001}.tar", "--type", "webdataset")):
        code, out, _ = run(*argv, "--image-size", 8)
        assert code == 0 and "total: 9" in out and "ok: 6 (t2i 6" in out and "corrupt: 2" in out


def test_check_no_usable_samples_exits_1(run, tmp_path):
    (tmp_path / "bad.png").write_bytes(corrupt_bytes())
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"image": "bad.png", "caption": "x"}))
    code, out, err = run(path)
    assert code == 1 and "corrupt: 1" in out and "ok: 0" in out
    assert "no usable samples" in err and "bad.jsonl" in err and "Traceback" not in err


def test_check_missing_path_exits_1(run, tmp_path):
    code, _, err = run(tmp_path / "nowhere")
    assert code == 1 and "nowhere" in err


def test_check_usage_error(run):
    with pytest.raises(SystemExit) as e:
        run("x", "--type", "csv")
    assert e.value.code == 2
