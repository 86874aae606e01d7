"""The Python cost of `optim.in_backward`'s one-optimizer design: N optimizer calls a step, each finding
the one parameter that has a gradient, against one call over all N (the ordinary loop).

    python benchmarks/in_backward_overhead.py --threads 1

The trainable tensor count of each preset under the published freeze policy (built empty, on the meta
device), as 1-value float32 parameters: the arithmetic is nil, so the time is the calls and the scan.
Timed: one call over all N; N plain calls (each scans the N parameters for the one gradient); N calls as
in_backward makes them (the param groups narrowed to the one parameter: the cost of a per-parameter
optimizer map); installing + removing the N hooks (done once per micro-step). Median of `--reps`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def timings(n: int, reps: int) -> dict:
    import torch

    from uniimage.training.in_backward import StepInBackward

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(n)]
    opt = torch.optim.AdamW(params, lr=1e-4)
    grad = torch.ones(1)

    def one_call():
        for p in params:
            p.grad = grad.clone()
        opt.step()
        for p in params:
            p.grad = None

    def per_param():
        for p in params:
            p.grad = grad.clone()
            opt.step()
            p.grad = None

    steps = StepInBackward(opt, params)

    def in_backward():  # what the hooks run: each call narrowed to its parameter
        for p in params:
            p.grad = grad.clone()
            steps._step(p)

    def hooks():
        with StepInBackward(opt, params):
            pass

    out = {}
    for name, fn in (("one_call", one_call), ("per_param", per_param), ("in_backward", in_backward), ("hooks", hooks)):
        times = []
        for _ in range(reps + 1):  # the first allocates the AdamW state
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name + "_ms"] = 1e3 * statistics.median(times[1:])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["small", "tbac-uniimage-3b"])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from uniimage.presets import build_preset
    from uniimage.training.config import FreezeConfig
    from uniimage.training.freeze import apply_freeze

    rows = []
    for preset in args.presets:
        model, _, _ = build_preset(preset, empty=True)
        apply_freeze(model, FreezeConfig())
        trainable = [q for q in model.parameters() if q.requires_grad]
        r = {"preset": preset, "tensors": len(trainable), "values_m": sum(q.numel() for q in trainable) / 1e6,
             **timings(len(trainable), args.reps)}
        r["added_ms"] = r["in_backward_ms"] - r["one_call_ms"]
        rows.append(r)
        print(f"{preset:<18} {r['tensors']:>4} tensors: one call {r['one_call_ms']:.1f} ms; one call per parameter: "
              f"plain {r['per_param_ms']:.1f} ms, narrowed (in_backward) {r['in_backward_ms']:.1f} ms (+{r['added_ms']:.1f}); "
              f"hooks on+off {r['hooks_ms']:.2f} ms", flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
