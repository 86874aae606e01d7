"""Stage 0 steps: ShapesEval data -> VLM -> VAE -> SANA init, into one output folder. The command
(`cli/demo_stage0.py`):

    python -m uniimage.cli.demo_stage0 all --out build/demo-base            # the whole stage
    python -m uniimage.cli.demo_stage0 {data,vlm,vae,sana,check} --out ...   # one step
    python -m uniimage.cli.demo_stage0 bases --from demo --out ...           # instead of vlm + vae: a trained
                                                                             # model's frozen MLLM and VAE
    python -m uniimage.cli.demo_stage0 slots --from demo --out ...           # after sana: stage 0b's model
                                                                             # folder (out/slots) back out of
                                                                             # a model that kept its MLLM side

Layout: out/data (ShapesEval train split, JSONL + 64 px PNGs), out/qwen (Qwen2.5-VL folder),
out/sana/{transformer,vae,scheduler}. Single-threaded by default (--threads), seeded throughout.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .sizes import SIZES

STEPS = ("data", "vlm", "vae", "sana", "check")
logger = logging.getLogger("uniimage.demo")


def run_data(args):
    from uniimage.shapes.dataset import write_dataset

    return write_dataset(args.out / "data", args.n_t2i, 0, args.n_vqa, split="train", image_size=SIZES[args.size].vae_image,
                         seed=args.seed, formats=("jsonl",))["counts"]


def sizes(args):
    """The named sizes, with --rope-theta (the text model's rotary base) when given."""
    chosen = SIZES[args.size]
    if args.rope_theta is not None:
        chosen = replace(chosen, text={**chosen.text, "rope_theta": args.rope_theta})
    return chosen


def run_vlm(args):
    from .train_vlm import train_vlm

    return train_vlm(args.out / "data", args.out / "qwen", sizes(args), args.vlm_steps, args.vlm_batch, args.vlm_lr,
                     args.seed, args.eval_n, init=args.vlm_init, cell_weight=args.cell_weight,
                     cell_positions=args.cell_positions, tower_only=args.tower_only)


def run_vae(args):
    from .train_vae import train_vae

    return train_vae(args.out / "data", args.out / "sana" / "vae", SIZES[args.size], args.vae_steps, args.vae_batch,
                     args.vae_lr, args.seed, args.eval_n)


def run_sana(args):
    from .sana_init import write_sana

    return write_sana(args.out / "sana", SIZES[args.size], args.out / "sana" / "vae", args.seed)


def source_model(args, step: str) -> str:
    """The trained model `bases` and `slots` take their parts from (--from)."""
    if args.bases_from is None:
        raise SystemExit(f"stage0 {step} needs --from MODEL (a saved UniImage folder or a preset name such as demo)")
    return args.bases_from


def run_bases(args):
    from .bases_from import write_bases

    return write_bases(source_model(args, "bases"), args.out)


def run_slots(args):
    from .bases_from import write_slot_model

    return write_slot_model(source_model(args, "slots"), args.out / "sana", args.out / "slots")


def run_check(args):
    from .check import check_bases

    return check_bases(args.out / "qwen", args.out / "sana")


RUNNERS = {"data": run_data, "vlm": run_vlm, "vae": run_vae, "sana": run_sana, "check": run_check, "bases": run_bases,
           "slots": run_slots}
