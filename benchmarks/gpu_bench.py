"""The GPU run behind benchmarks/gpu_check.sh: tbac-uniimage-3b with random weights in bf16, built
once, benched plain (with the naive baseline), with model offload, with sequential offload, with the
DiT compiled, and the quantized-MLLM condition check. Each stage writes its JSON as soon as it ends,
so a run cut short still reports what it finished.

    python benchmarks/gpu_bench.py --out DIR [--steps 20] [--stages plain model sequential quant compile]
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch

from uniimage.perf import BenchSettings, format_table, load_bench_pipeline, run_bench
from uniimage.perf.bench import PROMPTS

GiB = 2**30


def stage_plain(pipe, base, steps):
    return run_bench(replace(base, batches=[1, 4, 16], steps=steps, baseline=True, baseline_max_batch=4), pipe)


def stage_model_offload(pipe, base, steps):
    pipe.to("cpu").enable_model_cpu_offload(device=base.device)
    torch.cuda.empty_cache()
    return run_bench(replace(base, batches=[1, 4], steps=steps, offload="model"), pipe)


def stage_sequential_offload(pipe, base, steps):
    pipe.to("cpu").enable_sequential_cpu_offload(device=base.device)
    torch.cuda.empty_cache()
    return run_bench(replace(base, batches=[1], steps=min(steps, 4), repeats=1, offload="sequential"), pipe)


def stage_compile(pipe, base, steps):
    pipe.to(base.device).compile_transformer()
    return run_bench(replace(base, batches=[1, 4], steps=steps, compile=True), pipe)


def stage_quant(pipe, base, steps):
    """Runs without the shared pipeline (main drops it first): its weights would count in peak memory."""
    from quant_cosine import measure

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return {"skipped": "bitsandbytes is not installed (carry its wheel in .whl/)"}
    out = measure(replace(base, steps=steps), ["8bit", "4bit"], PROMPTS)
    # End to end with the 8-bit MLLM: speed and memory of a whole call.
    qpipe = load_bench_pipeline(base)
    qpipe.quantize_mllm("8bit")
    torch.cuda.empty_cache()
    out["bench_8bit"] = run_bench(replace(base, batches=[1, 4], steps=steps), qpipe)
    return out


STAGES = {"plain": stage_plain, "model": stage_model_offload, "sequential": stage_sequential_offload,
          "quant": stage_quant, "compile": stage_compile}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="tbac-uniimage-3b")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--stages", nargs="+", default=["plain", "model", "sequential", "quant", "compile"])
    p.add_argument("--device", default="cuda", help="cpu (with --model tiny --dtype float32) to dry-run the script")
    p.add_argument("--dtype", default="bfloat16")
    # GPU batch-1 calls stay slow for a couple of calls (allocator, cuBLAS heuristics): 2 warm-ups, median of 3.
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = BenchSettings(model=args.model, device=args.device, dtype=args.dtype, warmup=args.warmup, repeats=args.repeats)
    start = time.perf_counter()
    pipe = load_bench_pipeline(base)
    print(f"built {args.model} in {time.perf_counter() - start:.1f}s; "
          f"{sum(p.numel() for p in pipe.model.parameters()) / 1e9:.2f}B params; "
          f"GPU {torch.cuda.memory_allocated() / GiB if torch.cuda.is_available() else 0:.2f} GiB", flush=True)
    for name in args.stages:
        start = time.perf_counter()
        if name == "quant":
            pipe = None
            torch.cuda.empty_cache()
        if pipe is None and name != "quant":
            pipe = load_bench_pipeline(base)
        try:
            result = STAGES[name](pipe, base, args.steps)
        except Exception as e:  # report and go on: the other stages still count
            result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        result["stage_seconds"] = time.perf_counter() - start
        (out / f"{name}.json").write_text(json.dumps(result, indent=2))
        print(f"\n=== {name} ({result['stage_seconds']:.0f}s)", flush=True)
        if "results" in result:
            print(format_table(result), flush=True)
        elif name == "quant" and "modes" in result:
            print(json.dumps(result["modes"], indent=2))
            if "bench_8bit" in result and "results" in result["bench_8bit"]:
                print(format_table(result["bench_8bit"]))
        else:
            print(json.dumps({k: v for k, v in result.items() if k != "traceback"}, indent=2), result.get("traceback", ""))


if __name__ == "__main__":
    main()
