"""Stage 0 of the demo model: ShapesEval data -> VLM -> VAE -> SANA init (steps in uniimage/demo/stage0.py).

    python -m uniimage.cli.demo_stage0 all --out build/demo-base
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from ..demo.sizes import SIZES
from ..demo.stage0 import RUNNERS, STEPS, logger


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_stage0", description=__doc__.split("\n")[0])
    p.add_argument("step", choices=STEPS + ("all", "bases", "slots"))
    p.add_argument("--out", type=Path, default=Path("build/demo-base"))
    p.add_argument("--size", choices=sorted(SIZES), default="demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-t2i", type=int, default=6000)
    p.add_argument("--n-vqa", type=int, default=20000)
    p.add_argument("--vlm-steps", type=int, default=1300)
    p.add_argument("--vlm-batch", type=int, default=16)
    p.add_argument("--vlm-lr", type=float, default=1e-3)
    p.add_argument("--vlm-init", type=Path, default=None, help="keep training this saved VLM folder (a second phase)")
    p.add_argument("--rope-theta", type=float, default=None,
                   help="rotary base of the fresh VLM's text layers (default: the size's, 1e4)")
    p.add_argument("--cell-weight", type=float, default=0.0,
                   help="weight of the per-cell shape / colour loss on the image tokens beside the VQA loss (0: off)")
    p.add_argument("--cell-positions", action="store_true",
                   help="with --cell-weight: the per-cell heads also read each image token's grid position, so the "
                        "tower's tokens carry where they are (uniimage/demo/cell_supervision.py)")
    p.add_argument("--tower-only", action="store_true",
                   help="with --vlm-init and --cell-weight: only the vision tower trains (a tower phase)")
    p.add_argument("--vae-steps", type=int, default=700)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=2e-3)
    p.add_argument("--from", dest="bases_from", default=None, help="bases: the trained model to take the MLLM and VAE from; "
                                                                   "slots: the model to take stage 0b's MLLM side from")
    p.add_argument("--eval-n", type=int, default=200, help="held-out questions / scenes to score (0: skip)")
    args = p.parse_args(argv)
    if args.cell_positions and not args.cell_weight:
        p.error("--cell-positions needs --cell-weight > 0 (the position head is part of the per-cell loss)")
    if args.tower_only and (args.vlm_init is None or not args.cell_weight):
        p.error("--tower-only trains an existing VLM's tower: it needs --vlm-init and --cell-weight > 0")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for step in (STEPS if args.step == "all" else (args.step,)):
        start = time.time()
        result = RUNNERS[step](args)
        logger.info("stage0 %s done in %.1f s: %s", step, time.time() - start, json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
