"""The README's picture of what the demo draws: the first command's prompt (top row) and the labelled
generalisation example (bottom row), sampling seeds 0-3, 20 steps, guidance 4.5 (the defaults).

    .venv/bin/python scripts/demo_examples.py                       # the shipped demo -> docs/images/demo-examples.png
    .venv/bin/python scripts/demo_examples.py --model DIR --out /tmp/examples.png
"""

from __future__ import annotations

import argparse

import torch
from PIL import Image

ROWS = ("a photo of a blue circle", "a red circle above a blue square")
CELL, GAP = 196, 8  # each 64 px drawing scaled up for the page


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="demo")
    p.add_argument("--out", default="docs/images/demo-examples.png")
    p.add_argument("--seeds", type=int, default=4)
    a = p.parse_args(argv)
    from uniimage import UniImagePipeline

    pipe = UniImagePipeline.from_pretrained(a.model, torch_dtype=torch.float32)
    sheet = Image.new("RGB", (a.seeds * CELL + (a.seeds - 1) * GAP, len(ROWS) * CELL + (len(ROWS) - 1) * GAP), "white")
    for row, prompt in enumerate(ROWS):
        for seed in range(a.seeds):
            image = pipe(prompt, num_inference_steps=20, guidance_scale=4.5, generator=torch.Generator().manual_seed(seed), progress=False).images[0]
            sheet.paste(image.resize((CELL, CELL), Image.BICUBIC), (seed * (CELL + GAP), row * (CELL + GAP)))
    sheet.save(a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
