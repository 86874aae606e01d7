"""The compile benchmarks' CPU paths: benchmarks/cpu_compile.py and the GPU script's smoke mode write
the figures and JSON keys the real runs write (tiny preset, 2 steps, the `eager` compile backend so it is
dynamo's capture and the bucket logic that run, not minutes of C++ codegen)."""

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture()
def bench_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_cpu_compile_reports_eager_vs_compiled(bench_path, tmp_path, capsys):
    import torch

    import cpu_compile

    out = tmp_path / "cpu.json"
    threads = torch.get_num_threads()  # the session's count: set_num_threads is process-wide, later tests rely on it
    result = cpu_compile.main(["--preset", "tiny", "--steps", "2", "--repeats", "1", "--threads", str(threads),
                               "--backend", "eager", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["speedup"] == pytest.approx(result["speedup"]) and saved["speedup"] > 0
    for variant in ("eager", "compiled"):
        assert saved[variant]["warmup_seconds"] > 0 and len(saved[variant]["repeats_seconds"]) == 1
        assert set(saved[variant]["phases"]) == {"mllm", "dit", "vae"}
    assert saved["agreement"]["max_abs_diff_255"] < 0.01  # same weights, same seed: the same image
    assert saved["threads"] == threads and saved["steps"] == 2
    assert saved["work"]["dit_flops"] > 0 and saved["work"]["vae_flops"] > 0 and saved["work"]["matmul_gflops_per_s"] > 0
    printed = capsys.readouterr().out
    assert "warm-up call" in printed and "max pixel difference" in printed and "dit rate" in printed


def test_gpu_script_smoke_mode_writes_every_stage(bench_path, tmp_path, capsys):
    import gpu_bench

    gpu_bench.REFERENCE.clear()
    gpu_bench.main(["--out", str(tmp_path), "--device", "cpu", "--preset", "tiny", "--steps", "2", "--batches", "1", "2",
                    "--compile-backend", "eager", "--warmup", "1", "--repeats", "1"])
    stages = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("plain", "compiled", "graphs", "fp8", "graphs-full")}
    keys = {"batch", "warmup_seconds", "seconds_per_image", "phases_per_image", "images_per_second",
            "peak_memory_bytes", "agreement"}
    for name in ("plain", "compiled"):
        rows = stages[name]["results"]
        assert [r["batch"] for r in rows] == [1, 2] and all(keys <= set(r) for r in rows)
    assert all(r["agreement"] is None for r in stages["plain"]["results"])
    assert all(r["agreement"]["max_abs_diff"] < 1e-4 for r in stages["compiled"]["results"])
    # No GPU here: each of these stages failed alone, with its reason, and the run went on.
    assert "captures CUDA graphs, but the pipeline is on cpu" in stages["graphs"]["error"]
    assert "captures CUDA graphs, but the pipeline is on cpu" in stages["graphs-full"]["error"]
    assert "fp8 matmuls need an NVIDIA GPU" in stages["fp8"]["error"]  # with or without torchao installed
    table = (tmp_path / "table.txt").read_text()
    assert "compiled" in table and "fp8: failed" in table
    assert "=== summary" in capsys.readouterr().out
    sys.modules.pop("gpu_bench", None)
