"""`uniimage train CONFIG.yaml [key=value ...] [--resume]`: one process, or many under torchrun /
`accelerate launch` (each process runs this same command)."""

from __future__ import annotations

import logging


def add_parser(sub):
    p = sub.add_parser("train", help="train from a YAML config (see uniimage/configs)")
    p.add_argument("config", help="training config YAML (e.g. uniimage/configs/tiny/t2i_pretrain.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. output_dir=/tmp/run max_steps=20")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir (resume=auto)")
    p.set_defaults(func=run_train)


def run_train(args) -> int:
    from ..training import Trainer, load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = list(args.overrides) + (["resume=auto"] if args.resume else [])
    config = load_config(args.config, overrides)
    trainer = Trainer(config)
    result = trainer.train()
    if trainer.acc.is_main_process:
        print(f"trained to step {trainer.step}; checkpoints in {config.output_dir}; final loss {result.get('loss', float('nan')):.4f}")
    return 0
