"""How much the model's conditions carry the prompt (uniimage/evaluation/condition_use.py), as JSON:

    python -m uniimage.cli.conditions MODEL DATA.jsonl [--limit 128] [--attributes 128] [--pairs 128] [--probes 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..evaluation.condition_use import (attribute_loss_gaps, condition_loss_gap, factor_shares, latent_factor_shares,
                                        pair_loss_gaps, prompt_dependence, read_pairs, structure_probes)


def main(argv=None):
    from ..pipelines.pipeline_uniimage import UniImagePipeline

    p = argparse.ArgumentParser(prog="python -m uniimage.cli.conditions", description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("data", help="a JSONL of {image, caption} rows (image relative to the file)")
    p.add_argument("--limit", type=int, default=128)
    p.add_argument("--attributes", type=int, default=0, help="also factor shares and attribute gaps on this many "
                   "single-object ShapesEval scenes (0: skip)")
    p.add_argument("--pairs", type=int, default=0, help="also binding-swap and relation-mirror loss gaps on this many "
                   "two-object ShapesEval scenes (0: skip)")
    p.add_argument("--probes", type=int, default=0, help="also linear probes of the condition for binding and relations, "
                   "trained on this many training-split prompts (0: skip)")
    args = p.parse_args(argv)
    pipe = UniImagePipeline.from_pretrained(args.model, torch_dtype=torch.float32)
    images, captions = read_pairs(Path(args.data), args.limit)
    out = {"prompt_dependence": prompt_dependence(pipe, captions), "loss": condition_loss_gap(pipe, images, captions)}
    if args.attributes:
        out["factor_shares"] = {"mllm": factor_shares(pipe), "condition": factor_shares(pipe, after_connector=True),
                                "latents": latent_factor_shares(pipe)}
        out["attribute_loss"] = attribute_loss_gaps(pipe, args.attributes)
    if args.pairs:
        out["pair_loss"] = pair_loss_gaps(pipe, args.pairs)
    if args.probes:
        out["structure_probes"] = structure_probes(pipe, args.probes)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
