"""What 8-bit AdamW state does to training: the same run with `adamw` and `adamw8bit`, compared.

    python benchmarks/optim_numerics.py                      # tiny preset, 200 steps, batch 8
    python benchmarks/optim_numerics.py --steps 100 --json out.json

Same model, data, noise draws and hyperparameters (the tiny training tests' settings); only `optim.name`
differs. Printed: a fixed-draw validation loss (16 samples, fixed noise and timesteps) before training and
every `--every` steps, the mean training loss of the last 20 steps, and how far the trained weights end
apart (relative L2 of the difference over the trainable weights).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def run(name: str, data: str, out: Path, steps: int, every: int, batch: int) -> dict:
    from uniimage.data import collate
    from uniimage.training import Trainer, load_config

    config = load_config(data={
        "output_dir": str(out / name), "model": {"preset": "tiny"}, "max_steps": steps, "batch_size": batch,
        "data": {"datasets": [{"path": data, "type": "jsonl"}], "cfg_dropout": None},
        "optim": {"name": name, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 2},
        "checkpoint": {"every": 10**9}, "log": {"every": 10**9, "tensorboard": False, "progress": False},
    })
    t = Trainer(config)
    fixed = collate([s for _, s in zip(range(16), iter(t.batches.stream))])
    t.batches.stream.set_epoch(0)
    curve, losses, start = [(0, t.fixed_loss(fixed))], [], time.perf_counter()
    while t.step < steps:
        losses += t.train(until=min(steps, t.step + every))["losses"]
        curve.append((t.step, t.fixed_loss(fixed)))
    weights = {n: p.detach().clone() for n, p in t.model.named_parameters() if p.requires_grad}
    return {"optimizer": name, "fixed_loss": curve, "train_loss_last20": sum(losses[-20:]) / len(losses[-20:]),
            "seconds": time.perf_counter() - start, "weights": weights}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from uniimage.shapes.dataset import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        data = str(write_dataset(Path(tmp) / "data", 16, 8, 0, image_size=32, formats=("jsonl",))["jsonl"])
        rows = [run(name, data, Path(tmp), args.steps, args.every, args.batch) for name in ("adamw", "adamw8bit")]
    a, b = rows[0].pop("weights"), rows[1].pop("weights")
    diff = sum((a[k] - b[k]).pow(2).sum() for k in a).sqrt() / sum(a[k].pow(2).sum() for k in a).sqrt()
    print(f"{'step':>6} " + " ".join(f"{r['optimizer']:>10}" for r in rows) + "   (fixed-draw validation loss)")
    for i, (step, _) in enumerate(rows[0]["fixed_loss"]):
        print(f"{step:>6} " + " ".join(f"{r['fixed_loss'][i][1]:>10.4f}" for r in rows))
    for r in rows:
        print(f"{r['optimizer']}: mean training loss of the last 20 steps {r['train_loss_last20']:.4f}; {r['seconds']:.1f} s "
              "(adamw8bit: includes compiling its update)")
    print(f"trained weights apart (relative L2): {float(diff):.4f}")
    result = {"steps": args.steps, "batch": args.batch, "rows": rows, "weights_relative_l2": float(diff)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
