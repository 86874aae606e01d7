"""Do the MLLM's image tokens hold the scene? A linear probe per image token (uniimage/demo/vision_probe.py):

    python -m uniimage.cli.demo_vision_probe MODEL [--pixels N] [--train 3000] [--test 500]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from ..demo.vision_probe import run
from ..presets import load_preset_or_checkpoint


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m uniimage.cli.demo_vision_probe", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a model folder or a preset name (demo)")
    p.add_argument("--pixels", type=int, default=None, help="pixels per image (default: the model's generation budget)")
    p.add_argument("--train", type=int, default=3000, help="scenes the probe is fitted on (64 px)")
    p.add_argument("--test", type=int, default=500, help="other scenes it is scored on (256 px, as eval renders sources)")
    p.add_argument("--steps", type=int, default=1500)
    a = p.parse_args(argv)
    for name in ("train", "test", "steps"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    model, processor, _ = load_preset_or_checkpoint(a.model, torch.float32)
    model.requires_grad_(False).eval()
    print(json.dumps({"model": a.model, **run(model, processor, a.train, a.test, a.pixels, steps=a.steps)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
