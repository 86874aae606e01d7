"""Training throughput: samples/s and peak memory of the tiny and small presets, gradient
checkpointing off and on. Each measurement runs in its own process (a fresh peak-memory counter).

    .venv/bin/python benchmarks/train_throughput.py                      # all four, defaults
    .venv/bin/python benchmarks/train_throughput.py --presets tiny --steps 20 --batch 8

Peak memory: CUDA max allocated on GPU; on CPU the process's peak resident set (includes Python,
imports and the frozen weights, so differences between settings are what to read).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def measure(preset: str, checkpointing: bool, batch: int, steps: int, warmup: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from uniimage.training import Trainer, load_config
    from uniimage.training.monitor import peak_memory_gb

    with tempfile.TemporaryDirectory() as out:
        size = {"tiny": 32, "small": 512}[preset]
        config = load_config(data={
            "output_dir": out, "model": {"preset": preset}, "max_steps": warmup + steps, "batch_size": batch,
            "gradient_checkpointing": checkpointing,
            "data": {"synthetic": {"n_t2i": 4 * batch, "n_edit": 0, "image_size": size}, "cfg_dropout": None},
            "optim": {"warmup_steps": 1}, "checkpoint": {"every": 10**9},
            "log": {"every": 10**9, "tensorboard": False, "progress": False},
        })
        trainer = Trainer(config)
        trainer.train(until=warmup)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        trainer.train(until=warmup + steps)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        return {"preset": preset, "grad_ckpt": checkpointing, "batch": batch, "device": str(trainer.acc.device),
                "samples_per_s": steps * batch / elapsed, "s_per_step": elapsed / steps,
                "peak_memory_gb": peak_memory_gb(trainer.acc.device)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["tiny", "small"])
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: tiny 20, small 3)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=None, help="per-step batch (default: tiny 8, small 2)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--one", nargs=2, metavar=("PRESET", "GC"), help=argparse.SUPPRESS)  # child mode
    args = p.parse_args(argv)
    defaults = {"tiny": (8, 20), "small": (2, 3)}
    if args.one:
        preset, gc = args.one[0], args.one[1] == "1"
        batch, steps = args.batch or defaults[preset][0], args.steps or defaults[preset][1]
        print("RESULT " + json.dumps(measure(preset, gc, batch, steps, args.warmup, args.threads)), flush=True)
        return 0
    print(f"{'preset':<7} {'grad ckpt':<9} {'batch':>5} {'device':<7} {'samples/s':>10} {'s/step':>8} {'peak GB':>8}")
    for preset in args.presets:
        for gc in (False, True):
            cmd = [sys.executable, __file__, "--one", preset, str(int(gc)), "--warmup", str(args.warmup), "--threads", str(args.threads)]
            cmd += ["--steps", str(args.steps)] if args.steps else []
            cmd += ["--batch", str(args.batch)] if args.batch else []
            run = subprocess.run(cmd, capture_output=True, text=True)
            line = next((out for out in run.stdout.splitlines() if out.startswith("RESULT ")), None)
            if line is None:
                print(f"{preset:<7} {str(gc):<9} failed:\n{run.stderr[-2000:]}")
                continue
            r = json.loads(line[7:])
            print(f"{r['preset']:<7} {str(r['grad_ckpt']):<9} {r['batch']:>5} {r['device']:<7} {r['samples_per_s']:>10.2f} "
                  f"{r['s_per_step']:>8.3f} {r['peak_memory_gb']:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
