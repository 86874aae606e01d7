"""Does a model use its condition? Two numbers that answer it long before sample quality does.

prompt dependence : at the ladder layers, the energy of the query states' prompt-dependent part over the
                    energy of their prompt-independent mean (mean over captions). Near 0: every prompt
                    reaches the DiT as nearly the same condition, and the DiT learns to ignore it.
loss gap          : the flow-matching loss of (image, caption) pairs with the same noise and timesteps,
                    given the right captions, the captions shuffled across images, and empty captions.
                    A DiT that uses the caption has right < shuffled.

    python -m uniimage.evaluation.condition_use MODEL DATA.jsonl [--limit 128]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image

from ..data.transforms import to_tensor
from ..training.loss import FlowMatchingLoss


@torch.no_grad()
def query_states(pipe, captions: list[str]) -> torch.Tensor:
    """[K, P, N, H]: MLLM states at the N query positions, at each ladder layer, for P text-only captions."""
    inputs = pipe.processor.generation_inputs(captions, [[] for _ in captions]).to(pipe.device)
    return pipe.model.ladder_states(inputs.input_ids, inputs.attention_mask)[0].float()


def prompt_dependence(pipe, captions: list[str]) -> float:
    x = query_states(pipe, captions)
    mean = x.mean(1, keepdim=True)
    return float((x - mean).pow(2).sum(-1).mean() / mean.pow(2).sum(-1).mean())


@torch.no_grad()
def condition_loss_gap(pipe, images: list[Image.Image], captions: list[str], seed: int = 0) -> dict:
    """Loss with the right captions, shuffled ones (each image gets the next image's) and empty ones."""
    if len(captions) < 2 or len(images) != len(captions):
        raise ValueError("condition_loss_gap needs at least 2 (image, caption) pairs, as many images as captions")
    model, loss_fn = pipe.model, FlowMatchingLoss()
    size = model.config.image_size
    x0 = model.encode_latents(torch.stack([to_tensor(im.resize((size, size))) for im in images]).to(pipe.device))
    gen = torch.Generator().manual_seed(seed)
    noised = loss_fn.noise(x0, torch.randn(x0.shape, generator=gen), loss_fn.sample_indices(len(images), gen))

    def loss(caps: list[str]) -> float:
        condition, mask = pipe.encode_prompt(caps, [[] for _ in caps])
        dtype = next(model.transformer.parameters()).dtype
        prediction = model(noised.noisy.to(dtype), noised.timesteps, condition.to(dtype), mask)
        return loss_fn(prediction, noised).item()

    return {"right": loss(captions), "shuffled": loss(captions[1:] + captions[:1]), "empty": loss([""] * len(captions))}


def read_pairs(jsonl: Path, limit: int) -> tuple[list[Image.Image], list[str]]:
    """(images, captions) of the first `limit` rows with a caption of a JSONL training file."""
    images, captions = [], []
    for line in Path(jsonl).read_text().splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("caption") and row.get("image"):
            images.append(Image.open(Path(jsonl).parent / row["image"]).convert("RGB"))
            captions.append(row["caption"])
        if len(captions) == limit:
            break
    return images, captions


def main(argv=None):
    from ..pipelines.pipeline_uniimage import UniImagePipeline

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("data", help="a JSONL of {image, caption} rows (image relative to the file)")
    p.add_argument("--limit", type=int, default=128)
    args = p.parse_args(argv)
    pipe = UniImagePipeline.from_pretrained(args.model, torch_dtype=torch.float32)
    images, captions = read_pairs(Path(args.data), args.limit)
    out = {"prompt_dependence": prompt_dependence(pipe, captions), "loss": condition_loss_gap(pipe, images, captions)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
