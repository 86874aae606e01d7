"""`uniimage bench` on the tiny preset: structure of the JSON and the table, baseline alongside."""

import json

from uniimage.cli.main import main


def test_bench_json_structure_with_baseline(capsys):
    code = main(["bench", "--model", "tiny", "--device", "cpu", "--batch", "1", "2", "--steps", "1",
                 "--repeats", "1", "--warmup", "0", "--baseline", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["settings"]["model"] == "tiny" and out["settings"]["steps"] == 1
    assert out["environment"]["parameters"] > 0 and out["environment"]["memory_measure"] == "peak_rss"
    assert [r["batch"] for r in out["results"]] == [1, 2]
    for r in out["results"]:
        per_image = r["ours"]["seconds_per_image"]
        assert set(per_image) == {"mllm", "dit", "vae", "total"}
        assert all(v > 0 for v in per_image.values())
        assert abs(per_image["mllm"] + per_image["dit"] + per_image["vae"] - per_image["total"]) < 1e-6
        assert r["ours"]["images_per_second"] > 0 and r["ours"]["peak_memory_bytes"] > 0
        assert r["baseline"]["seconds_per_image"]["total"] > 0
        assert r["speedup"] > 0 and r["outputs_agree"] is True and r["max_abs_diff"] < 2 / 255


def test_bench_table_and_baseline_limit(capsys):
    code = main(["bench", "--model", "tiny", "--device", "cpu", "--batch", "1", "2", "--steps", "1",
                 "--repeats", "1", "--warmup", "0", "--baseline", "--baseline-max-batch", "1", "--edit"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    header = next(line for line in lines if line.lstrip().startswith("batch"))
    assert "mllm ms/img" in header and "speedup" in header and "peak MiB" in header
    rows = [line.split() for line in lines[lines.index(header) + 1 :]]
    assert [r[0] for r in rows] == ["1", "2"]
    assert rows[0][-1] == "yes" and rows[1][-1] == "-"  # batch 2 is above --baseline-max-batch
    assert "edit" in lines[0]


def test_bench_rejects_bad_numbers(capsys):
    assert main(["bench", "--model", "tiny", "--batch", "0"]) == 1
    assert "must be >= 1" in capsys.readouterr().err
