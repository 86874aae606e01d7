"""Eager vs compiled (`pipe.compile()`: inductor's C++ backend for the repeated SANA block and the VAE
decoder) on the CPU, in ONE process on ONE pipeline: compiled calls run the compiled code, eager calls
the same modules under `torch.compiler.set_stance("force_eager")`. (Seeded preset weights differ between
processes and thread counts, so two processes would not compare the same weights.) Calls alternate
(eager, compiled, eager, ...) so a change in machine load slows both alike.

    taskset -c 1 python benchmarks/cpu_compile.py --preset small --steps 20 --repeats 2 --threads 1 --json out.json

Prints warm-up seconds (the first call of each; the compiled one includes compilation), per-image seconds
by phase (MLLM, DiT loop, VAE decode: medians over the repeats), the ratio, and the largest pixel
difference between the two outputs in 1/255 units.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from uniimage.perf.bench import PROMPTS, BenchSettings, load_bench_pipeline
from uniimage.perf.compare import image_agreement, timed_call

PHASES = ("mllm", "dit", "vae")


@torch.no_grad()
def work(pipe, batch: int, steps: int) -> dict:
    """FLOPs (torch's FlopCounterMode) of the DiT loop (steps x 2 CFG rows x batch) and of the VAE decode,
    and this core's float32 matmul rate (a 2048^3 matmul, best of 5): how near to the floor each part is."""
    from torch.utils.flop_counter import FlopCounterMode

    tr, f = pipe.transformer, pipe.model.config.vae_downsample_f
    side = pipe.default_height // f
    x = torch.randn(2 * batch, tr.config.in_channels, side, side)
    cond = torch.randn(tr.num_blocks, 2 * batch, pipe.model.config.num_metaqueries, tr.config.caption_channels)
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as dit:
        tr(x, cond, torch.full((2 * batch,), 500.0), encoder_attention_mask=torch.ones(2 * batch, cond.shape[2]))
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as vae:
        pipe.vae.decode(torch.randn(batch, tr.config.in_channels, side, side))
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return {"dit_flops": dit.get_total_flops() * steps, "vae_flops": vae.get_total_flops(),
            "matmul_gflops_per_s": 2 * 2048**3 / best / 1e9}


def run(pipe, variant: str, prompts, steps, seed):
    stance = "force_eager" if variant == "eager" else "default"
    with torch.compiler.set_stance(stance):
        return timed_call(pipe, prompts, steps, seed)


def summary(calls) -> dict:
    total = statistics.median(c[1] for c in calls)
    return {"seconds_per_call": total, "phases": {k: statistics.median(c[2][k] for c in calls) for k in PHASES},
            "repeats_seconds": [c[1] for c in calls]}


def table(result: dict) -> str:
    e, c, b = result["eager"], result["compiled"], result["batch"]
    rows = [("part", "eager s/img", "compiled s/img", "ratio")]
    for k in PHASES:
        rows.append((k, f"{e['phases'][k] / b:.2f}", f"{c['phases'][k] / b:.2f}", f"{e['phases'][k] / c['phases'][k]:.2f}x"))
    rows.append(("total", f"{e['seconds_per_call'] / b:.2f}", f"{c['seconds_per_call'] / b:.2f}", f"{result['speedup']:.2f}x"))
    rows.append(("warm-up call", f"{e['warmup_seconds']:.1f}", f"{c['warmup_seconds']:.1f}", ""))
    w = result.get("work")
    if w:
        for k in ("dit", "vae"):
            rate = lambda v: f"{w[k + '_flops'] / result[v]['phases'][k] / 1e9:.0f} GFLOP/s"
            rows.append((f"{k} rate", rate("eager"), rate("compiled"), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="timed calls of each, alternating")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (set OMP_NUM_THREADS alike)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="inductor", help="torch.compile backend (tests: eager)")
    p.add_argument("--json", default=None, help="write the result here too")
    p.add_argument("--no-flops", action="store_true", help="skip counting FLOPs and the matmul rate")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    pipe = load_bench_pipeline(BenchSettings(model=args.preset, device="cpu", dtype="float32", seed=args.seed))
    built = time.perf_counter() - start
    pipe.compile(backend=args.backend)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.batch)]
    calls, warmup = {"eager": [], "compiled": []}, {}
    for variant in ("eager", "compiled"):  # first calls: the negative-prompt cache fills, compilation happens
        images, seconds, _ = run(pipe, variant, prompts, args.steps, args.seed)
        warmup[variant] = seconds
        print(f"warm-up {variant}: {seconds:.1f} s", flush=True)
    for r in range(args.repeats):
        for variant in ("eager", "compiled"):
            calls[variant].append(run(pipe, variant, prompts, args.steps, args.seed))
            print(f"repeat {r + 1} {variant}: {calls[variant][-1][1]:.1f} s", flush=True)
    result = {"preset": args.preset, "batch": args.batch, "steps": args.steps, "guidance_scale": 4.5,
              "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "cpu_affinity": sorted(os.sched_getaffinity(0)), "torch": torch.__version__, "backend": args.backend,
              "machine": platform.processor() or platform.machine(), "build_seconds": built}
    for variant in ("eager", "compiled"):
        result[variant] = {**summary(calls[variant]), "warmup_seconds": warmup[variant]}
    result["speedup"] = result["eager"]["seconds_per_call"] / result["compiled"]["seconds_per_call"]
    result["agreement"] = image_agreement(calls["compiled"][-1][0], calls["eager"][-1][0])
    if not args.no_flops:
        result["work"] = work(pipe, args.batch, args.steps)
    print(f"\n{args.preset}, batch {args.batch}, {args.steps} steps, guidance 4.5, float32, "
          f"{result['threads']} thread(s), cores {result['cpu_affinity']}, torch {torch.__version__}")
    print(table(result))
    a = result["agreement"]
    print(f"max pixel difference {a['max_abs_diff_255']:.3f}/255 (mean {a['mean_abs_diff'] * 255:.4f}/255); "
          f"target: >= 1.5x with images within 2/255")
    if "work" in result:
        w = result["work"]
        print(f"work per call: DiT {w['dit_flops'] / 1e12:.2f} TFLOP, VAE {w['vae_flops'] / 1e12:.3f} TFLOP; "
              f"this core's float32 matmul (2048^3): {w['matmul_gflops_per_s']:.0f} GFLOP/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
