"""The GPU run behind benchmarks/gpu_check.sh: tbac-uniimage-3b with random weights in bf16, built once.

Default stages (issue 17), each at batch 1/4/16 with warm-up seconds (the first call at a batch size:
compilation included), seconds per image by phase, peak memory and image agreement with `plain`:
  plain     the eager pipeline (the reference images)
  compiled  pipe.compile(): regional compile of the SANA block + the VAE decoder, batch buckets
  graphs    pipe.compile(mode="reduce-overhead"): the same plus CUDA graphs
  fp8       pipe.compile(fp8=True): torchao float8 for the DiT block linears (PSNR / max difference
            to plain over the 16 prompts of batch 16)
  graphs-full  CUDA graphs over the whole DiT forward (regional=False): last, its warm-up is the longest
Further stages: naive (plain with the naive baseline, the old `plain`), model, sequential, quant, compile
(the whole DiT forward compiled). Each stage writes its JSON as soon as it ends and a failing stage is
recorded and skipped, so a run cut short still reports what it finished.

    python benchmarks/gpu_bench.py --out DIR [--steps 20] [--stages plain compiled graphs fp8]
    python benchmarks/gpu_bench.py --out DIR --device cpu --preset tiny --steps 2 --compile-backend eager  # smoke
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch

from uniimage.perf import BenchSettings, format_table, load_bench_pipeline, run_bench
from uniimage.perf.bench import PROMPTS
from uniimage.perf.compare import image_agreement, timed_call
from uniimage.perf.timing import PeakMemory

GiB = 2**30


def stage_naive(pipe, base, steps):
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


VARIANTS = {"plain": None, "compiled": {}, "graphs": {"mode": "reduce-overhead"}, "fp8": {"fp8": True},
            # CUDA graphs over the whole DiT forward (one graph a step, fixed weights) instead of per block:
            # a slower warm-up (the whole model compiles), the fewest launches.
            "graphs-full": {"mode": "reduce-overhead", "regional": False}}
REFERENCE: dict[int, torch.Tensor] = {}  # plain's images per batch size: what the other variants are compared to


def measure_batch(pipe, base, steps, batch, memory) -> dict:
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    warmups = [timed_call(pipe, prompts, steps, base.seed)[1] for _ in range(max(base.warmup, 1))]
    memory.reset()
    calls = [timed_call(pipe, prompts, steps, base.seed) for _ in range(base.repeats)]
    total = statistics.median(c[1] for c in calls)
    images = calls[-1][0]
    row = {"batch": batch, "warmup_seconds": warmups[0], "warmup_calls_seconds": warmups,
           "seconds_per_call": total, "seconds_per_image": total / batch, "images_per_second": batch / total,
           "phases_per_image": {k: statistics.median(c[2][k] for c in calls) / batch for k in ("mllm", "dit", "vae")},
           "repeats_seconds": [c[1] for c in calls], "peak_memory_bytes": memory.peak(), "agreement": None}
    if batch in REFERENCE:
        row["agreement"] = image_agreement(images, REFERENCE[batch])
    return row, images


def stage_variant(name, pipe, base, steps, batches, backend):
    pipe.uncompile()  # also after a stage that failed half-way through compiling
    start = time.perf_counter()
    kwargs = VARIANTS[name]
    if kwargs is not None:
        pipe.compile(backend=backend, **kwargs)
    result = {"stage": name, "compile_kwargs": kwargs, "backend": backend, "setup_seconds": time.perf_counter() - start,
              "settings": {"model": base.model, "device": base.device, "dtype": base.dtype, "steps": steps,
                           "warmup": base.warmup, "repeats": base.repeats, "guidance_scale": 4.5},
              "memory_measure": PeakMemory(pipe._execution_device).kind, "results": []}
    memory = PeakMemory(pipe._execution_device)
    for batch in batches:
        row, images = measure_batch(pipe, base, steps, batch, memory)
        if name == "plain":
            REFERENCE[batch] = images
        result["results"].append(row)
    if name == "fp8" and result["results"]:
        # The fp8 report: PSNR and max difference over the prompts of the largest batch (16 by default).
        result["fp8_vs_plain"] = {"prompts": result["results"][-1]["batch"], **(result["results"][-1]["agreement"] or {})}
    return result


def variant_table(results: list[dict]) -> str:
    rows = [("stage", "batch", "warm-up s", "mllm ms/img", "dit ms/img", "vae ms/img", "total ms/img", "img/s",
             "peak MiB", "mean diff", "max diff", "PSNR dB")]
    for r in results:
        for b in r.get("results", []):
            a, ph = b["agreement"], b["phases_per_image"]
            rows.append((r["stage"], str(b["batch"]), f"{b['warmup_seconds']:.1f}",
                         *(f"{ph[k] * 1000:.1f}" for k in ("mllm", "dit", "vae")), f"{b['seconds_per_image'] * 1000:.1f}",
                         f"{b['images_per_second']:.2f}", f"{b['peak_memory_bytes'] / 2**20:.0f}",
                         *((f"{a['mean_abs_diff']:.4f}", f"{a['max_abs_diff']:.4f}", "identical" if a["psnr_db"] is None else f"{a['psnr_db']:.1f}") if a else ("-",) * 3)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    lines += [f"{r['stage']}: failed: {r['error'].splitlines()[0][:200]}" for r in results if "error" in r]
    return "\n".join(lines)


STAGES = {"naive": stage_naive, "model": stage_model_offload, "sequential": stage_sequential_offload,
          "quant": stage_quant, "compile": stage_compile}
DEFAULT_STAGES = ["plain", "compiled", "graphs", "fp8", "graphs-full"]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--model", "--preset", dest="model", default="tbac-uniimage-3b")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--stages", nargs="+", default=DEFAULT_STAGES, choices=[*VARIANTS, *STAGES])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16], help="batch sizes of the variant stages")
    p.add_argument("--device", default="cuda", help="cpu (with --preset tiny --dtype float32) to dry-run the script")
    p.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 elsewhere")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (the CPU smoke test: eager)")
    # GPU batch-1 calls stay slow for a couple of calls (allocator, cuBLAS heuristics): 2 warm-ups, median of 3.
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = BenchSettings(model=args.model, device=args.device, dtype=dtype, warmup=args.warmup, repeats=args.repeats)
    start = time.perf_counter()
    pipe = load_bench_pipeline(base)
    print(f"built {args.model} in {time.perf_counter() - start:.1f}s; "
          f"{sum(p.numel() for p in pipe.model.parameters()) / 1e9:.2f}B params; "
          f"GPU {torch.cuda.memory_allocated() / GiB if torch.cuda.is_available() else 0:.2f} GiB", flush=True)
    variant_results = []
    for name in args.stages:
        start = time.perf_counter()
        if name == "quant":
            pipe = None
            torch.cuda.empty_cache()
        if pipe is None and name != "quant":
            pipe = load_bench_pipeline(base)
        try:
            if name in VARIANTS:
                result = stage_variant(name, pipe, base, args.steps, args.batches, args.compile_backend)
            else:
                if pipe is not None and pipe.compile_options is not None:
                    pipe.uncompile()
                result = STAGES[name](pipe, base, args.steps)
        except Exception as e:  # report and go on: the other stages still count
            result = {"stage": name, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        result["stage_seconds"] = time.perf_counter() - start
        (out / f"{name}.json").write_text(json.dumps(result, indent=2))
        print(f"\n=== {name} ({result['stage_seconds']:.0f}s)", flush=True)
        if name in VARIANTS:
            variant_results.append(result)
            print(variant_table([result]) if "error" not in result else result["error"], flush=True)
        elif "results" in result:
            print(format_table(result), flush=True)
        elif name == "quant" and "modes" in result:
            print(json.dumps(result["modes"], indent=2))
            if "bench_8bit" in result and "results" in result["bench_8bit"]:
                print(format_table(result["bench_8bit"]))
        else:
            print(json.dumps({k: v for k, v in result.items() if k != "traceback"}, indent=2), result.get("traceback", ""))
    if variant_results:
        table = variant_table(variant_results)
        (out / "table.txt").write_text(table + "\n")
        print("\n=== summary (agreement: pixel differences to plain in [0, 1], same seeds)\n" + table, flush=True)
    return variant_results


if __name__ == "__main__":
    main()
