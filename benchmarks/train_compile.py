"""Training step time, eager vs `compile: inductor` (the DiT's repeated block through torch.compile), on a
training config as it would run: same data, same batch, same steps. Each variant in its own process.

    taskset -c 1 python benchmarks/train_compile.py --config uniimage/configs/demo/t2i_pretrain.yaml --threads 1
    python benchmarks/train_compile.py --preset tiny --steps 10          # anywhere, no demo data needed

Warm-up steps (compilation included) are timed apart: the one-off cost a run pays before the faster steps.
The baseline is eager PyTorch on the same config, the trainer's default.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def measure(config_path: str | None, preset: str | None, backend: str | None, warmup: int, steps: int,
            threads: int, batch: int | None) -> dict:
    import torch

    torch.set_num_threads(threads)
    from uniimage.training import Trainer, load_config

    with tempfile.TemporaryDirectory() as out:
        overrides = [f"output_dir={out}", f"max_steps={warmup + steps}", "checkpoint.every=1000000",
                     "log.every=1000000", "log.tensorboard=false", "log.progress=false", "eval.every=0"]
        overrides += [f"compile={backend}"] if backend else []
        overrides += [f"batch_size={batch}"] if batch else []
        if config_path:
            config = load_config(config_path, overrides)
        else:
            config = load_config(data={"output_dir": out, "model": {"preset": preset}, "max_steps": 1,
                                       "data": {"synthetic": {"n_t2i": 64, "n_edit": 0, "image_size": 32},
                                                "cfg_dropout": None}}, overrides=overrides)
        trainer = Trainer(config)
        start = time.perf_counter()
        trainer.train(until=warmup)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        losses = trainer.train(until=warmup + steps)["losses"]
        elapsed = time.perf_counter() - start
        return {"compile": backend or "eager", "batch": config.batch_size, "threads": threads,
                "warmup_s": round(warm, 1), "s_per_step": round(elapsed / steps, 4),
                "samples_per_s": round(steps * config.batch_size / elapsed, 2), "last_loss": round(losses[-1], 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="a training config (its data must exist)")
    src.add_argument("--preset", help="a model preset on synthetic ShapesEval data (e.g. tiny)")
    p.add_argument("--backends", nargs="+", default=["eager", "inductor"])
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    p.add_argument("--steps", type=int, default=30, help="timed steps")
    p.add_argument("--batch", type=int, default=None, help="override the config's batch_size")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one backend, JSON on stdout
    a = p.parse_args(argv)
    if a.one:
        row = measure(a.config, a.preset, None if a.one == "eager" else a.one, a.warmup, a.steps, a.threads, a.batch)
        print(json.dumps(row))
        return 0
    rows = []
    for backend in a.backends:
        cmd = [sys.executable, __file__, "--one", backend, "--warmup", str(a.warmup), "--steps", str(a.steps),
               "--threads", str(a.threads)] + (["--config", a.config] if a.config else ["--preset", a.preset])
        cmd += ["--batch", str(a.batch)] if a.batch else []
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(a.threads)})
        if done.returncode:
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit(f"{backend}: the child run failed (exit {done.returncode})")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["s_per_step"]
    print(f"\n| compile | batch | threads | warm-up s ({a.warmup} steps) | s / step | samples / s | vs {rows[0]['compile']} |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['compile']} | {r['batch']} | {r['threads']} | {r['warmup_s']} | {r['s_per_step']} | "
              f"{r['samples_per_s']} | {base / r['s_per_step']:.2f}x |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
