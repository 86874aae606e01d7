"""Training step time from cached latents vs from pixels: one process, one model, one batch, steps alternated.

    python benchmarks/train_latents.py                      # small preset, CPU, batch 2, float32, 3 rounds
    taskset -c 1 python benchmarks/train_latents.py --threads 1

The trainer is built for pixel data; its first batch is encoded once by the model's VAE (as
`uniimage data cache-latents` does), and the training loop then takes the pixel batch and its latent twin in
turn: pixel, latents, pixel, latents, ... so both see the same weights (to one step's update), the same
machine load and the same caption rows. The difference is the VAE encoder's forward at the training
resolution. Image decoding and resizing are left out on both sides (the batch is already in memory; data
workers hide that cost in training), so this is the saving inside the training step only.

The memory saved (no VAE encoder loaded, no encoder activations) needs a process per variant:
benchmarks/train_memory.py, rows `ours` vs `ours+latents`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


class Alternate:
    """Endless batches taken in turn from `batches`, with the stats attribute the training loop reads."""

    def __init__(self, batches: list[dict], stats):
        self.batches, self.stats, self.n = batches, stats, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        batch = self.batches[self.n % len(self.batches)]
        self.n += 1
        return batch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="timed (pixels, latents) pairs after one warm-up pair")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from uniimage.presets import preset_folder
    from uniimage.shapes.dataset import write_dataset
    from uniimage.training import Trainer, load_config

    size = json.loads((preset_folder(args.preset).parent / "info.json").read_text())[args.preset]["latent"]["image_size"]
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp) / "data", args.batch, 0, 0, split="train", image_size=size, seed=0, formats=("jsonl",))["jsonl"]
        trainer = Trainer(load_config(data={
            "output_dir": str(Path(tmp) / "run"), "model": {"preset": args.preset}, "max_steps": 10**6,
            "batch_size": args.batch, "data": {"datasets": [{"path": str(data), "type": "jsonl"}], "cfg_dropout": None},
            "optim": {"warmup_steps": 1}, "checkpoint": {"every": 10**9},
            "log": {"every": 10**9, "tensorboard": False, "progress": False}}))
        pixels = next(trainer.batches)
        with torch.no_grad():
            latent = trainer.model.encode_latents(pixels["target"])
        cached = {**{k: v for k, v in pixels.items() if k != "target"}, "latent": latent}
        same = (trainer.fixed_loss(pixels), trainer.fixed_loss(cached))  # same weights, same draws
        trainer.batches = Alternate([pixels, cached], trainer.batches.stats)
        trainer.train(until=2)  # warm-up pair: AdamW state allocated, both paths run once
        times = {"pixels": [], "latents": []}
        for i in range(2 * args.rounds):
            start = time.perf_counter()
            trainer.train(until=trainer.step + 1)
            times["pixels" if i % 2 == 0 else "latents"].append(time.perf_counter() - start)
    enc = sum(p.numel() * p.element_size() for p in trainer.model.vae.encoder.parameters())
    px, lt = statistics.median(times["pixels"]), statistics.median(times["latents"])
    print(f"{args.preset}, batch {args.batch}, {size} px, {args.threads} thread(s), {args.rounds} alternated rounds; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"loss at the start, same draws: pixels {same[0]:.6f}, cached latents {same[1]:.6f}")
    print(f"step from pixels  : median {px:.2f} s  ({', '.join(f'{t:.2f}' for t in times['pixels'])})")
    print(f"step from latents : median {lt:.2f} s  ({', '.join(f'{t:.2f}' for t in times['latents'])})")
    print(f"saved per step    : {px - lt:.2f} s ({100 * (px - lt) / px:.1f}%); latents/pixels {lt / px:.3f}")
    print(f"VAE encoder weights not loaded from a cache: {enc / 2**20:.0f} MiB (float32)")
    print(json.dumps({"preset": args.preset, "batch": args.batch, "threads": args.threads, "loss": same, **times,
                      "encoder_mib": enc / 2**20}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
