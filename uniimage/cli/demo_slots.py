"""Demo stage 0b: train the tiny MLLM's query tokens to hold one object each (uniimage/demo/slots.py):

    python -m uniimage.cli.demo_slots --config uniimage/configs/demo/t2i_pretrain.yaml \
        --data build/demo-base/data-t2i/train.jsonl --vqa build/demo-base/data/train_vqa.jsonl --out build/demo-slots
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..demo.slots import train_slots


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_slots", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a stage-1 config; its `model` section builds the starting model")
    p.add_argument("--data", type=Path, required=True, help="ShapesEval t2i JSONL with scene metadata (the prompts)")
    p.add_argument("--vqa", type=Path, default=None, help="VQA JSONL for language-model rehearsal in the same steps")
    p.add_argument("--out", type=Path, required=True, help="new folder for the whole model (stage 1's model.pretrained)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rehearsal-batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = train_slots(a.config, a.data, a.vqa, a.out, a.steps, a.batch, a.lr, a.rehearsal_batch, a.seed)
    print(json.dumps(report["log"][-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
