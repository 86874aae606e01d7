"""Demo stage 0b: train the tiny MLLM's query tokens to hold one object each (uniimage/demo/slots.py):

    python -m uniimage.cli.demo_slots uniimage/configs/demo/slots.yaml [--sides] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..demo.slots import train_slots
from ..training.config import load_config


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_slots", description=__doc__.splitlines()[0])
    p.add_argument("config", help="the slot stage's config (uniimage/configs/demo/slots.yaml): output_dir is the new "
                                  "model folder, data the prompts, rehearsal the VQA rows")
    p.add_argument("--sides", action="store_true", help="object tokens also learn the side of the picture their "
                                                             "object is on (left, right, top, bottom)")
    p.add_argument("--nonce", type=float, default=0.0, help="share of captions whose colour and shape words become "
                   "made-up ones with classes of their own (uniimage/demo/nonce.py; 0: none)")
    p.add_argument("--attend", type=float, default=0.0, help="weight of a loss that teaches head 0 / head 1 of each "
                   "object query to attend to its colour / shape word (uniimage/demo/word_attention.py; 0: off)")
    p.add_argument("--edits", type=Path, default=None, help="a ShapesEval editing JSONL (data-edit/train.jsonl, best "
                   "written with --edit-add-grid 4): each step also teaches the queries of edit prompts the target scene, "
                   "query q the object centred in grid cell q (uniimage/demo/edit_cells.py)")
    p.add_argument("--edit-batch", type=int, default=16, help="edits per step with --edits")
    p.add_argument("--attend-cell", type=float, default=0.0, help="with --edits: weight of a loss that teaches head 2 "
                   "of query q to attend to the source's image token of cell q, and the changed cell's heads 0 / 1 "
                   "to the instruction's colour / shape word (0: off)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, as for `uniimage train`")
    a = p.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = train_slots(load_config(a.config, a.overrides), sides=a.sides, nonce=a.nonce, attend=a.attend,
                         edits=a.edits, edit_batch=a.edit_batch, attend_cell=a.attend_cell)
    print(json.dumps(report["log"][-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
