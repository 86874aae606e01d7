"""Training memory and step time against the published recipe, side by side, same model, same batch.

    python benchmarks/train_memory.py                                  # small preset, CPU, batch 2, float32
    python benchmarks/train_memory.py --variants published ours ours+latents --steps 3
    python benchmarks/train_memory.py --variants published ours+latents+ckpt+adamw8bit --steps 3
    python benchmarks/train_memory.py --variants published ours+latents+ckpt ours+latents+ckpt+in_backward
    python benchmarks/train_memory.py --variants published ours+latents+ckpt+in_backward ours+latents+ckpt+in_backward+bf16store

`published` emulates the reference training code inside this project: the whole vocabulary embedding
is trainable (a dense gradient for every row, non-query rows' gradients masked to zero by a hook), it
sits in AdamW with weight decay (so AdamW keeps two states the size of the embedding, and decay shrinks
the frozen rows), everything else as ours. `ours` trains only the 64 query rows (uniimage/models/queries.py).
Then ours with each memory factor alone and combined: cached latents (`latents`: no VAE encoder loaded or
run), activation checkpointing (`ckpt`: MLLM + DiT), bf16 (`bf16`: autocast, frozen MLLM and VAE stored
in bf16; trainable weights and AdamW state stay float32), 8-bit AdamW (`adamw8bit`: torchao's AdamW8bit,
both moments as 8-bit codes + a float32 scale per 256 values; its first step compiles the update per
parameter shape, timed apart as `first_step_s`), the optimizer stepped inside the backward pass
(`in_backward`: `optim.in_backward`, each parameter updated and its gradient freed as soon as it is
complete, so no full gradient buffer; it needs `max_grad_norm: 0`, so these rows do not clip), frozen
weights stored in bf16 but computed in float32 (`bf16store`: `frozen_dtype: bfloat16` with `precision: "no"`,
each frozen layer upcast for its own forward by diffusers' layerwise casting; needs checkpointing).

Each variant runs in its own process. Peak memory: the process's peak resident set (VmHWM, reset after the
model is built, so it is the training steps' peak with the resident weights, not the build's transient),
or CUDA max allocated on a GPU. On CPU the resident set also holds memory that glibc's allocator kept
after a free (its mmap threshold grows with the blocks freed, so later blocks come from a heap that is
not given back): run with `MALLOC_MMAP_THRESHOLD_=131072` (inherited by every variant's process) for a
peak that follows the live memory; docs/performance.md reports both. "After build" is the resident set (CUDA: allocated) at that reset. Step time: the mean of the timed steps after one warm-up step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Each factor alone on top of `ours`, then the combinations; the bf16 rows last (slow on a CPU without
# bf16 matrix units, so a run cut for time still has every float32 row).
CKPT, BF16 = {"gradient_checkpointing": True}, {"precision": "bf16", "frozen_dtype": "bfloat16"}
ADAMW8BIT = {"optim": {"name": "adamw8bit"}}
IN_BACKWARD = {"optim": {"in_backward": True, "max_grad_norm": 0}}  # it refuses global-norm clipping
BF16_STORE = {"precision": "no", "frozen_dtype": "bfloat16"}  # stored bf16, computed float32 (training/frozen_storage.py)
VARIANTS = {
    "published": {},
    "ours": {},
    "ours+latents": {},
    "ours+ckpt": CKPT,
    "ours+latents+ckpt": CKPT,
    "ours+bf16": BF16,
    "ours+latents+bf16": BF16,
    "ours+latents+ckpt+bf16": {**CKPT, **BF16},
    "ours+adamw8bit": ADAMW8BIT,
    "ours+latents+ckpt+adamw8bit": {**CKPT, **ADAMW8BIT},
    "ours+in_backward": IN_BACKWARD,
    "ours+latents+ckpt+in_backward": {**CKPT, **IN_BACKWARD},
    "ours+latents+ckpt+in_backward+bf16store": {**CKPT, **IN_BACKWARD, **BF16_STORE},
}


def published_trainer_class():
    import torch

    from uniimage.training import Trainer

    class PublishedRecipeTrainer(Trainer):
        """The reference recipe's optimisation of the embedding: all rows trainable, decayed, in AdamW."""

        def _prepare(self):
            vocab = self.model.query_embedding.weight
            vocab.requires_grad_(True)
            # The reference masks every non-query row's gradient; here the query rows are their own
            # parameter, so every row of this matrix is a non-query row.
            mask = torch.zeros(vocab.shape[0], 1, dtype=vocab.dtype)
            vocab.register_hook(lambda grad: grad * mask)
            super()._prepare()
            assert any(p is vocab for p in self.params)

    return PublishedRecipeTrainer


def config(variant: str, out: str, data: str, cache: str, preset: str, batch: int, steps: int):
    from uniimage.training import load_config

    latents = "latents" in variant
    spec = {"path": cache, "type": "latents"} if latents else {"path": data, "type": "jsonl"}
    fields = dict(VARIANTS[variant])
    optim = {"warmup_steps": 1, **fields.pop("optim", {})}
    return load_config(data={
        "output_dir": out, "model": {"preset": preset}, "max_steps": steps + 10, "batch_size": batch,
        "data": {"datasets": [spec], "cfg_dropout": None},
        "optim": optim, "checkpoint": {"every": 10**9},
        "log": {"every": 10**9, "tensorboard": False, "progress": False}, **fields,
    })


def measure(variant: str, data: str, cache: str, preset: str, batch: int, steps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from uniimage.perf.timing import PeakMemory, sync
    from uniimage.training import Trainer

    cls = published_trainer_class() if variant == "published" else Trainer
    with tempfile.TemporaryDirectory() as out:
        trainer = cls(config(variant, out, data, cache, preset, batch, steps))
        device = trainer.acc.device
        trainable = sum(p.numel() for p in trainer.params)
        peak = PeakMemory(device)
        peak.reset()  # from here the peak starts at the resident set (CPU) or allocated bytes (CUDA) after the build
        resident = peak.peak() if device.type == "cpu" else torch.cuda.memory_allocated(device)
        start = time.perf_counter()
        losses = trainer.train(until=1)["losses"]  # warm-up: optimizer state allocated here (adamw8bit: its update compiled)
        sync(device)
        first = time.perf_counter() - start
        times = []
        for step in range(2, 2 + steps):
            start = time.perf_counter()
            losses += trainer.train(until=step)["losses"]
            sync(device)
            times.append(time.perf_counter() - start)
        elapsed = sum(times) / steps
        state = sum(state_bytes(v) for s in trainer.optimizer.state_dict()["state"].values() for v in s.values())
        return {"variant": variant, "device": str(device), "batch": batch, "s_per_step": elapsed, "step_s": times,
                "first_step_s": first, "losses": losses,
                "peak_mib": peak.peak() / 2**20, "after_build_mib": resident / 2**20,
                "trainable_m": trainable / 1e6, "optimizer_state_mib": state / 2**20,
                "vae_encoder": trainer.model.vae.encoder is not None}


def state_bytes(v) -> int:
    """Bytes an optimizer state entry holds: an 8-bit moment counts its codes, block scales and code map."""
    import torch

    if not torch.is_tensor(v) or v.dim() == 0:
        return 0
    if hasattr(v, "codes"):  # torchao OptimState8bit
        return sum(t.numel() * t.element_size() for t in (v.codes, v.scale, v.qmap))
    return v.numel() * v.element_size()


def prepare(root: Path, preset: str, n: int, threads: int) -> tuple[str, str]:
    """ShapesEval scenes at the model's size, and their latent cache (made by the same VAE)."""
    import torch

    torch.set_num_threads(threads)
    from uniimage.data.latent_cache import write_latent_cache
    from uniimage.presets import build_preset
    from uniimage.shapes.dataset import write_dataset

    model, _, _ = build_preset(preset, torch.float32, seed=0)
    size = model.config.image_size
    data = write_dataset(root / "data", n, 0, 0, split="train", image_size=size, seed=0, formats=("jsonl",))["jsonl"]
    write_latent_cache({"path": str(data), "type": "jsonl"}, model, root / "latents", size, batch_size=2)
    return str(data), str(root / "latents")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step (the peak is reached by step 2)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--one", nargs=3, metavar=("VARIANT", "DATA", "CACHE"), help=argparse.SUPPRESS)  # child mode
    args = p.parse_args(argv)
    if args.one:
        r = measure(*args.one, args.preset, args.batch, args.steps, args.threads)
        print("RESULT " + json.dumps(r), flush=True)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        data, cache = prepare(Path(tmp), args.preset, args.batch * (args.steps + 2), args.threads)
        print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC; {args.threads} thread(s); {args.preset}: data and latent cache ready in {time.time() - t0:.0f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        head = f"{'variant':<40} {'trainable M':>11} {'optim state MiB':>15} {'after build MiB':>15} {'peak MiB':>9} {'s/step':>7} {'MiB vs pub':>10} {'peak vs pub':>11} {'time vs pub':>11}"
        print(head, flush=True)
        for v in args.variants:
            cmd = [sys.executable, __file__, "--one", v, data, cache, "--preset", args.preset, "--batch", str(args.batch),
                   "--steps", str(args.steps), "--threads", str(args.threads)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{v:<40} failed:\n{run.stderr[-3000:]}", flush=True)
                continue
            r = json.loads(line[7:])
            r["ended_utc"] = time.strftime("%H:%M:%S", time.gmtime())
            rows.append(r)
            base = next((x for x in rows if x["variant"] == "published"), None)
            rel = (f"{r['peak_mib'] - base['peak_mib']:>+10.0f} {r['peak_mib'] / base['peak_mib']:>11.3f} {r['s_per_step'] / base['s_per_step']:>11.3f}" if base else f"{'':>10} {'':>11} {'':>11}")
            print(f"{v:<40} {r['trainable_m']:>11.1f} {r['optimizer_state_mib']:>15.0f} {r['after_build_mib']:>15.0f} "
                  f"{r['peak_mib']:>9.0f} {r['s_per_step']:>7.2f} {rel}", flush=True)
        base = next((x for x in rows if x["variant"] == "published"), None)
        if base is not None:  # every row against the published one, wherever it ran in the order
            print(f"{'variant':<40} {'peak vs pub':>11} {'time vs pub':>11}")
            for r in rows:
                print(f"{r['variant']:<40} {r['peak_mib'] / base['peak_mib']:>11.3f} {r['s_per_step'] / base['s_per_step']:>11.3f}")
        print(f"load average {os.getloadavg()[0]:.2f} at the end; {json.dumps(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
