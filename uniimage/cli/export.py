"""`uniimage export RUN_DIR/checkpoint-N OUT`: a training checkpoint as a full published-layout model."""

from __future__ import annotations

from ..utils.dtypes import DTYPE_NAMES, torch_dtype


def add_parser(sub):
    p = sub.add_parser("export", help="write a training checkpoint as a full model (published layout)")
    p.add_argument("checkpoint", help="RUN_DIR/checkpoint-N, or RUN_DIR for its newest checkpoint")
    p.add_argument("out", help="new folder for the model (loadable with `uniimage generate --model OUT`)")
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_NAMES), help="dtype of the written weights")
    p.add_argument("--weights", default="auto", choices=["auto", "ema", "trained"],
                   help="auto: the run's moving average (config `ema:`) where it kept one, else the trained weights")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from ..training import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, torch_dtype(args.dtype), args.weights)
    print(f"exported {args.checkpoint} -> {out}")
    return 0
