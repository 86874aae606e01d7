"""`uniimage train CONFIG.yaml [key=value ...] [--resume]`: one process, or many under torchrun /
`accelerate launch` (each process runs this same command).
`uniimage convert-checkpoint RUN_DIR|RUN_DIR/checkpoint-N`: an older run's pickled state -> JSON + safetensors."""

from __future__ import annotations

import logging


def add_parser(sub):
    p = sub.add_parser("train", help="train from a YAML config (see uniimage/configs)")
    p.add_argument("config", help="training config YAML (e.g. uniimage/configs/tiny/t2i_pretrain.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. output_dir=/tmp/run max_steps=20")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir (resume=auto)")
    p.set_defaults(func=run_train)

    p = sub.add_parser("convert-checkpoint", help="rewrite an older training checkpoint's pickled state so it can be resumed")
    p.add_argument("path", help="RUN_DIR (all its checkpoints) or RUN_DIR/checkpoint-N")
    p.set_defaults(func=run_convert)


def run_train(args) -> int:
    from ..training import Trainer, load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = list(args.overrides) + (["resume=auto"] if args.resume else [])
    config = load_config(args.config, overrides)
    trainer = Trainer(config)
    result = trainer.train()
    if trainer.acc.is_main_process:
        loss = result.get("loss", float("nan"))
        # A run resumed at max_steps takes no step: say so instead of printing a nan loss.
        last = f"final loss {loss:.4f}" if loss == loss else "no step run (already at max_steps)"
        print(f"trained to step {trainer.step}; checkpoints in {config.output_dir}; {last}")
    return 0


def run_convert(args) -> int:
    from ..training.checkpointing import convert_run

    for folder, written in convert_run(args.path).items():
        if written:
            print(f"{folder}: wrote {', '.join(f'{n}.json' for n in written)} (+ .safetensors); the .pt files are kept, "
                  "never read again, and may be deleted")
        else:
            print(f"{folder}: already in the safe format")
    return 0
