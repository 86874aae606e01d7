"""The optimizer step alone: torch AdamW vs torchao AdamW8bit over a preset's trainable parameters.

    python benchmarks/optim_step.py --preset small --steps 3 --threads 1

The trainable parameters of the preset under the published freeze policy (DiT, connector, queries), random
gradients; one step to allocate the state (AdamW8bit: and compile its update per parameter shape, timed
apart), then `--steps` timed steps, the two optimizers in turn (same machine load; each has its own
copy of the parameters, both in this process). Prints seconds per step and the state's bytes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from uniimage.presets import build_preset
    from uniimage.training.config import FreezeConfig, OptimConfig
    from uniimage.training.freeze import apply_freeze
    from uniimage.training.optim import build_optimizer

    model, _, _ = build_preset(args.preset, torch.float32, seed=0)
    apply_freeze(model, FreezeConfig())
    base = [p.detach() for p in model.parameters() if p.requires_grad]
    del model
    gen = torch.Generator().manual_seed(0)
    runs = {}
    for name in ("adamw", "adamw8bit"):
        params = [torch.nn.Parameter(b.clone()) for b in base]
        for q in params:
            q.grad = torch.randn(q.shape, generator=gen) * 1e-3
        runs[name] = {"params": params, "opt": build_optimizer(params, OptimConfig(name=name)), "times": []}
        start = time.perf_counter()
        runs[name]["opt"].step()
        runs[name]["first_s"] = time.perf_counter() - start
    for _ in range(args.steps):
        for name, r in runs.items():  # alternate: both see the same machine load
            start = time.perf_counter()
            r["opt"].step()
            r["times"].append(time.perf_counter() - start)
    out = {"preset": args.preset, "tensors": len(base), "values_m": sum(b.numel() for b in base) / 1e6}
    for name, r in runs.items():
        state = sum(sum(t.numel() * t.element_size() for t in ((v.codes, v.scale, v.qmap) if hasattr(v, "codes") else (v,)))
                    for s in r["opt"].state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0)
        out[name] = {"first_step_s": r["first_s"], "step_s": r["times"], "median_s": statistics.median(r["times"]),
                     "state_mib": state / 2**20}
        print(f"{name:<10} first step {r['first_s']:7.2f} s; steps {', '.join(f'{t:.2f}' for t in r['times'])} s "
              f"(median {out[name]['median_s']:.2f}); state {state / 2**20:.0f} MiB")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
