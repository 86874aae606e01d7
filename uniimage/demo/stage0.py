"""Stage 0 CLI: ShapesEval data -> VLM -> VAE -> SANA init, into one output folder.

    python -m uniimage.demo.stage0 all --out build/demo-base            # the whole stage
    python -m uniimage.demo.stage0 {data,vlm,vae,sana,check} --out ...   # one step
    python -m uniimage.demo.stage0 bases --from demo --out ...           # instead of vlm + vae: a trained
                                                                         # model's frozen MLLM and VAE

Layout: out/data (ShapesEval train split, JSONL + 64 px PNGs), out/qwen (Qwen2.5-VL folder),
out/sana/{transformer,vae,scheduler}. Single-threaded by default (--threads), seeded throughout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from .sizes import SIZES

STEPS = ("data", "vlm", "vae", "sana", "check")
logger = logging.getLogger("uniimage.demo")


def run_data(args):
    from uniimage.shapes.dataset import write_dataset

    return write_dataset(args.out / "data", args.n_t2i, 0, args.n_vqa, split="train", image_size=SIZES[args.size].vae_image,
                         seed=args.seed, formats=("jsonl",))["counts"]


def run_vlm(args):
    from .train_vlm import train_vlm

    return train_vlm(args.out / "data", args.out / "qwen", SIZES[args.size], args.vlm_steps, args.vlm_batch, args.vlm_lr,
                     args.seed, args.eval_n, init=args.vlm_init)


def run_vae(args):
    from .train_vae import train_vae

    return train_vae(args.out / "data", args.out / "sana" / "vae", SIZES[args.size], args.vae_steps, args.vae_batch,
                     args.vae_lr, args.seed, args.eval_n)


def run_sana(args):
    from .sana_init import write_sana

    return write_sana(args.out / "sana", SIZES[args.size], args.out / "sana" / "vae", args.seed)


def run_bases(args):
    from .bases_from import write_bases

    if args.bases_from is None:
        raise SystemExit("stage0 bases needs --from MODEL (a saved UniImage folder or a preset name such as demo)")
    return write_bases(args.bases_from, args.out)


def run_check(args):
    from .check import check_bases

    return check_bases(args.out / "qwen", args.out / "sana")


RUNNERS = {"data": run_data, "vlm": run_vlm, "vae": run_vae, "sana": run_sana, "check": run_check, "bases": run_bases}


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m uniimage.demo.stage0", description=__doc__.split("\n")[0])
    p.add_argument("step", choices=STEPS + ("all", "bases"))
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
    p.add_argument("--vae-steps", type=int, default=700)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=2e-3)
    p.add_argument("--from", dest="bases_from", default=None, help="bases: the trained model to take the MLLM and VAE from")
    p.add_argument("--eval-n", type=int, default=200, help="held-out questions / scenes to score (0: skip)")
    return p.parse_args(argv)


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
