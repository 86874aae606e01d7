"""Demo stage 4: answer layers stacked above the ladder and trained on VQA (uniimage/demo/answer_layers.py).

    python -m uniimage.cli.demo_answer MODEL --out DIR [--grow 4 --steps 3000]
    torchrun --standalone --nproc-per-node 2 -m uniimage.cli.demo_answer MODEL --out DIR ...   # 2 processes

Under torchrun every process trains on its share of each batch of --batch (gloo; the same weights as one process
with that batch); process 0 alone scores, saves and reports.

Reads a saved UniImage model, writes the whole model again to DIR (a new folder) with the grown MLLM; the
DiT, VAE, connector, queries and every layer the ladder reads are copied unchanged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from ..errors import InputError

logger = logging.getLogger("uniimage.demo")
REPORT = "answer_report.json"  # written by each run, read back by the next round's


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_answer", description=__doc__.split("\n")[0])
    p.add_argument("model", help="a saved UniImage model folder (e.g. the joint stage's export)")
    p.add_argument("--out", type=Path, required=True, help="new folder for the model with answer layers")
    p.add_argument("--grow", type=int, default=4, help="decoder layers stacked above the MLLM's top layer")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-vqa", type=int, default=60000, help="fresh training-split questions to train on")
    p.add_argument("--describe-share", type=float, default=0.2,
                   help="share of the examples asked 'Describe this image.' (the full caption) instead of a question")
    p.add_argument("--where-share", type=float, default=0.0,
                   help="share of the position questions asked 'which shape is on the left?' (or right, top, bottom) instead")
    p.add_argument("--position-extra", type=int, default=0, help="more position questions beside the --n-vqa ones")
    p.add_argument("--prior-tau", type=float, default=0.0,
                   help="logit adjustment by the question words' answer prior in the loss (0: plain LM loss; answer_prior.py)")
    p.add_argument("--train-tower", action="store_true",
                   help="train the vision tower too (edited images change; text-to-image ones do not)")
    p.add_argument("--cell-weight", type=float, default=0.0,
                   help="with --train-tower: stage 0's per-cell loss on the image tokens at this weight (0: none)")
    p.add_argument("--cell-positions", action="store_true",
                   help="the per-cell heads also read each image token's grid position (cell_supervision.py)")
    p.add_argument("--position-weight", type=float, default=0.0,
                   help="weight of the position questions' dense targets (position_supervision.py; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-n", type=int, default=100, help="questions per split scored before and after (0: skip)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from ..checkpoint.pretrained import load_pretrained, save_pretrained
    from ..demo.answer_layers import answer_examples, grow_answer_layers, train_answer_layers
    from ..demo.data_parallel import finish, init_from_env
    from ..demo.eval_vlm import describe_accuracy, vqa_accuracy

    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    torch.set_num_threads(args.threads)
    if args.out.exists() and any(args.out.iterdir()):
        raise InputError(f"{args.out} exists and is not empty: give a new folder (nothing is overwritten)")
    if args.batch < 1:
        raise InputError(f"--batch must be >= 1, got {args.batch}")
    rank, world = init_from_env()
    if args.batch % world:
        raise InputError(f"--batch {args.batch} does not split evenly over {world} processes")
    start = time.time()
    model, processor, components = load_pretrained(args.model, torch.float32)
    tokenizer, images = processor.tokenizer, components.image_processor()
    earlier = earlier_rounds(Path(args.model))

    def score(before: bool = False):
        if not args.eval_n or rank != 0:
            return None
        last = earlier[-1].get("vqa_after") if before and earlier else None
        if last and last["train"]["n"] == args.eval_n:  # the same weights, scored by the round that saved them
            return last
        result = {split: vqa_accuracy(model.mllm, tokenizer, images, split, args.eval_n) for split in ("train", "heldout")}
        return {**result, "describe_exact": describe_accuracy(model.mllm, tokenizer, images, min(50, args.eval_n))}

    report = {"from": Path(args.model).name, "grow": args.grow, "steps": args.steps, "batch": args.batch, "lr": args.lr,
              "n_vqa": args.n_vqa, "describe_share": args.describe_share, "where_share": args.where_share, "position_extra": args.position_extra, "prior_tau": args.prior_tau, "train_tower": args.train_tower,
              "cell_weight": args.cell_weight, "cell_positions": args.cell_positions, "position_weight": args.position_weight, "seed": args.seed,
              "processes": world, "vqa_before": score(before=True)}
    grow_answer_layers(model, args.grow)
    losses = train_answer_layers(model, tokenizer, images, answer_examples(args.n_vqa, 9173 + args.seed, args.describe_share, args.where_share,
                                                                    args.position_extra), args.steps,
                                 args.batch, args.lr, args.seed, prior_tau=args.prior_tau,
                                 tower=args.train_tower, rank=rank, world=world, cell_weight=args.cell_weight,
                                 cell_positions=args.cell_positions, position_weight=args.position_weight)
    finish(world)
    if rank != 0:
        return 0
    report.update(final_loss=sum(losses[-50:]) / len(losses[-50:]), vqa_after=score(),
                  layers=model.num_mllm_layers, ladder=list(model.ladder), seconds=round(time.time() - start, 1),
                  earlier_rounds=earlier)
    save_pretrained(model, components, args.out)
    (args.out / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    logger.info("answer layers: %s", json.dumps(report))
    return 0


def earlier_rounds(model: Path) -> list[dict]:
    """The reports of the stage-4 runs that made `model` (train_demo.sh's earlier rounds), oldest first, so the
    shipped model's report holds the whole stage."""
    path = model / REPORT
    if not path.is_file():
        return []
    last = json.loads(path.read_text())
    return [*last.pop("earlier_rounds", []), last]


if __name__ == "__main__":
    sys.exit(main())
