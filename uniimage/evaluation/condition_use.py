"""Does a model use its condition? Two numbers that answer it long before sample quality does.

prompt dependence : at the ladder layers, the energy of the query states' prompt-dependent part over the
                    energy of their prompt-independent mean (mean over captions). Near 0: every prompt
                    reaches the DiT as nearly the same condition, and the DiT learns to ignore it.
loss gap          : the flow-matching loss of (image, caption) pairs with the same noise and timesteps,
                    given the right captions, the captions shuffled across images, and empty captions.
                    A DiT that uses the caption has right < shuffled.

And, for ShapesEval models, which words it reads:
factor shares     : over the 24 captions "a {colour} {shape}", the shares of the query states' prompt-dependent
                    energy that colour alone, shape alone and their interaction explain (two-way ANOVA).
                    Also for the VAE latents of the 24 pairs drawn alone (what the DiT must produce).
attribute gaps    : the loss of single-object training scenes with the right caption, with only the colour
                    word swapped, and with only the shape word swapped (never into a held-out pair).
structure probes  : linear probes on the condition itself: from two-object prompts' conditions, which shape is
                    named first and second, their colours, and the relation; tested on unseen training-split
                    prompts and on held-out ones. High probes with zero pair gaps: the DiT does not read it.
pair gaps         : the same for two-object training scenes: the two colours swapped between the shapes
                    (binding: "a red circle and a blue square" -> "a blue circle and a red square"), and the
                    relation mirrored ("a circle above a square" -> "a circle below a square").

    python -m uniimage.cli.conditions MODEL DATA.jsonl [--limit 128] [--attributes 128]
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from PIL import Image

from ..data.transforms import to_tensor
from ..pipelines.schedulers import load_noise_schedule
from ..shapes.heldout import heldout_combinations
from ..shapes.layout import place_objects, place_pair
from ..shapes.render import render_scene
from ..shapes.scene import Scene, ShapeObject
from ..shapes.prompts import caption_objects, t2i_items
from ..shapes.vocab import COLORS, MIRROR, RELATIONS, SHAPES
from ..training.loss import FlowMatchingLoss


@torch.no_grad()
def query_states(pipe, captions: list[str]) -> torch.Tensor:
    """[K, P, N, H]: MLLM states at the N query positions, at each ladder layer, for P text-only captions."""
    inputs = pipe.processor.generation_inputs(captions, [[] for _ in captions]).to(pipe._execution_device)
    return pipe.model.ladder_states(inputs.input_ids, inputs.attention_mask)[0].float()


def prompt_dependence(pipe, captions: list[str]) -> float:
    x = query_states(pipe, captions)
    mean = x.mean(1, keepdim=True)
    return float((x - mean).pow(2).sum(-1).mean() / mean.pow(2).sum(-1).mean())


@torch.no_grad()
def caption_losses(pipe, images: list[Image.Image], caption_sets: dict[str, list[str]], seed: int = 0) -> dict:
    """Flow-matching loss of the images under each set of captions, all with the same noise and timesteps."""
    model, loss_fn = pipe.model, FlowMatchingLoss(schedule=load_noise_schedule(pipe.sources.noise_scheduler_dir))
    size = model.config.image_size
    x0 = model.encode_latents(torch.stack([to_tensor(im.resize((size, size))) for im in images]).to(pipe._execution_device))
    gen = torch.Generator().manual_seed(seed)
    noised = loss_fn.noise(x0, torch.randn(x0.shape, generator=gen), loss_fn.sample_indices(len(images), gen))

    def loss(caps: list[str]) -> float:
        condition, mask = pipe.encode_prompt(caps, [[] for _ in caps])
        dtype = next(model.transformer.parameters()).dtype
        prediction = model(noised.noisy.to(dtype), noised.timesteps, condition.to(dtype), mask)
        return loss_fn(prediction, noised).item()

    return {name: loss(caps) for name, caps in caption_sets.items()}


def condition_loss_gap(pipe, images: list[Image.Image], captions: list[str], seed: int = 0) -> dict:
    """Loss with the right captions, shuffled ones (each image gets the next image's) and empty ones."""
    if len(captions) < 2 or len(images) != len(captions):
        raise ValueError("condition_loss_gap needs at least 2 (image, caption) pairs, as many images as captions")
    sets = {"right": captions, "shuffled": captions[1:] + captions[:1], "empty": [""] * len(captions)}
    return caption_losses(pipe, images, sets, seed)


def factor_shares_of(states: torch.Tensor) -> dict:
    """Two-way ANOVA of states [C, S, ...] (colour x shape): shares of the energy around the grand mean that
    the colour means, the shape means and the rest (interaction) explain; they sum to 1."""
    x = states.reshape(states.shape[0], states.shape[1], -1).double()
    mean = x.mean((0, 1), keepdim=True)
    colour, shape = x.mean(1, keepdim=True) - mean, x.mean(0, keepdim=True) - mean
    total = (x - mean).pow(2).sum()
    if total == 0:
        raise ValueError("factor_shares_of: the states do not vary at all")
    parts = {
        "colour": colour.pow(2).sum() * x.shape[1],
        "shape": shape.pow(2).sum() * x.shape[0],
        "interaction": (x - mean - colour - shape).pow(2).sum(),
    }
    return {name: float(part / total) for name, part in parts.items()}


@torch.no_grad()
def factor_shares(pipe, after_connector: bool = False) -> dict:
    """Factor shares of the query states for "a {colour} {shape}" (or of the connector's output, the DiT's
    actual condition), averaged over the ladder layers."""
    captions = [f"a {c} {s}" for c in COLORS for s in SHAPES]
    if after_connector:
        states = pipe.encode_prompt(captions, [[] for _ in captions])[0].float()  # [K, C*S, N, C']
    else:
        states = query_states(pipe, captions)  # [K, C*S, N, H]
    per_layer = [factor_shares_of(layer.reshape(len(COLORS), len(SHAPES), -1)) for layer in states]
    return {name: sum(r[name] for r in per_layer) / len(per_layer) for name in per_layer[0]}


@torch.no_grad()
def latent_factor_shares(pipe) -> dict:
    """The same shares for the VAE latents of the 24 pairs drawn alone, centred, at 0.4 of the side: how much
    of what the DiT must draw each word decides (the target side of the comparison)."""
    size = pipe.model.config.image_size
    images = [render_scene(Scene((ShapeObject(s, c, (0.5, 0.5), 0.4),)), size) for c in COLORS for s in SHAPES]
    latents = pipe.model.encode_latents(torch.stack([to_tensor(im) for im in images]).to(pipe._execution_device))
    return factor_shares_of(latents.reshape(len(COLORS), len(SHAPES), -1))


def attribute_swaps(n: int, seed: int = 0) -> list[dict]:
    """n single-object training-split scenes, each with its caption and the same caption with only the
    colour, or only the shape, swapped for another one that keeps the pair out of the held-out set."""
    heldout, rng, rows = heldout_combinations(), random.Random(f"attribute-swaps:{seed}"), []
    for _ in range(n):
        shape = rng.choice(SHAPES)
        colour = rng.choice(heldout.allowed_colors(shape))
        other_colour = rng.choice([c for c in heldout.allowed_colors(shape) if c != colour])
        other_shape = rng.choice([s for s in SHAPES if s != shape and not heldout.has_color_shape(colour, s)])
        scene = Scene(tuple(place_objects(rng, [(shape, colour)])))
        rows.append({"scene": scene, "right": f"a {colour} {shape}",
                     "colour_swapped": f"a {other_colour} {shape}", "shape_swapped": f"a {colour} {other_shape}"})
    return rows


def attribute_loss_gaps(pipe, n: int = 128, seed: int = 0) -> dict:
    """Losses of single-object scenes given the right caption, the colour-swapped and the shape-swapped one.
    A DiT that reads colour words has colour_swapped > right; likewise for shapes."""
    if n < 1:
        raise ValueError(f"attribute_loss_gaps needs n >= 1, got {n}")
    rows = attribute_swaps(n, seed)
    images = [render_scene(r["scene"], pipe.model.config.image_size) for r in rows]
    return caption_losses(pipe, images, {k: [r[k] for r in rows] for k in ("right", "colour_swapped", "shape_swapped")}, seed)


def pair_swaps(n: int, seed: int = 0) -> list[dict]:
    """n two-object training-split scenes, each drawn twice over: a colour-attribution scene with its caption
    and the colours swapped between the shapes, and a position scene with its caption and the relation
    mirrored. Every caption, swapped ones included, stays out of the held-out pairs and triples."""
    heldout, rng, rows = heldout_combinations(), random.Random(f"pair-swaps:{seed}"), []
    while len(rows) < n:
        a, b = rng.sample(SHAPES, 2)
        # Colours allowed on both shapes, so the swapped binding is a training-split caption too.
        both = [c for c in heldout.allowed_colors(a) if c in heldout.allowed_colors(b)]
        relation = rng.choice(list(MIRROR))
        if len(both) < 2 or heldout.has_position(a, relation, b) or heldout.has_position(a, MIRROR[relation], b):
            continue
        ca, cb = rng.sample(both, 2)
        rows.append({"binding_scene": Scene(tuple(place_objects(rng, [(a, ca), (b, cb)]))),
                     "binding_right": f"a {ca} {a} and a {cb} {b}", "binding_swapped": f"a {cb} {a} and a {ca} {b}",
                     "relation_scene": Scene(tuple(place_pair(rng, (a, ca), relation, (b, cb)))),
                     "relation_right": f"a {a} {relation} a {b}", "relation_swapped": f"a {a} {MIRROR[relation]} a {b}"})
    return rows


def pair_loss_gaps(pipe, n: int = 128, seed: int = 0) -> dict:
    """Losses of two-object scenes with the right caption and with the binding swapped, and of position scenes
    with the right caption and the relation mirrored. A DiT that binds colours to shapes has
    binding_swapped > binding_right; one that reads the relation has relation_swapped > relation_right."""
    if n < 1:
        raise ValueError(f"pair_loss_gaps needs n >= 1, got {n}")
    rows, size = pair_swaps(n, seed), pipe.model.config.image_size
    out = {}
    for kind in ("binding", "relation"):
        images = [render_scene(r[f"{kind}_scene"], size) for r in rows]
        sets = {f"{kind}_{k}": [r[f"{kind}_{k}"] for r in rows] for k in ("right", "swapped")}
        out.update(caption_losses(pipe, images, sets, seed))
    return out


def structure_targets(metadata: dict) -> dict | None:
    """Class indices a probe should read from a colour-attribution or position prompt's condition, else None."""
    if metadata["tag"] not in ("color_attr", "position"):
        return None
    (first, second), colours = caption_objects(metadata), list(COLORS)
    if metadata["tag"] == "color_attr":
        return {"color_attr.shape_first": SHAPES.index(first["class"]), "color_attr.shape_second": SHAPES.index(second["class"]),
                "color_attr.colour_first": colours.index(first["color"]), "color_attr.colour_second": colours.index(second["color"])}
    return {"position.shape_first": SHAPES.index(first["class"]), "position.shape_second": SHAPES.index(second["class"]),
            "position.relation": RELATIONS.index(first["position"][0])}


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, tests: list[tuple[torch.Tensor, torch.Tensor]],
                 classes: int, steps: int = 300) -> list[float]:
    """Multinomial logistic regression (standardised features, a little L2) -> accuracy on each test set."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-5
    weight = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=1e-2)
    x = (train_x - mean) / std
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(x @ weight + bias, train_y) + 1e-3 * weight.pow(2).sum()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return [float((((tx - mean) / std @ weight + bias).argmax(1) == ty).float().mean()) if len(ty) else float("nan")
                for tx, ty in tests]


PROBE_CLASSES = {"shape": len(SHAPES), "colour": len(COLORS), "relation": len(RELATIONS)}  # by a target's kind


def _conditions(pipe, captions: list[str], chunk: int = 64) -> torch.Tensor:
    """[K, P, N, C] conditions of text-only captions, encoded `chunk` at a time."""
    return torch.cat([pipe.encode_prompt(captions[i:i + chunk], [[] for _ in captions[i:i + chunk]])[0].float()
                      for i in range(0, len(captions), chunk)], dim=1)


@torch.no_grad()
def structure_probes(pipe, n: int = 4000, seed: int = 11) -> dict:
    """Per target: [accuracy on unseen training-split prompts, on held-out prompts] of a linear probe on the last
    block's condition (tokens flattened) and on the token average of every block's (what an evenly spread
    cross-attention reads). Probes train on the distinct prompts among n training-split items."""
    if n < 12:
        raise ValueError(f"structure_probes needs n >= 12 items (two of each category), got {n}")
    heldout = heldout_combinations()
    sets, seen = {}, set()  # seen: the probes' training prompts, kept out of the test sets
    for name, split, count, set_seed in (("train", "train", n, seed), ("unseen", "train", n // 3, seed + 1),
                                         ("heldout", "heldout", n // 3, seed + 2)):
        prompts = {it.prompt: structure_targets(it.metadata) for it in t2i_items(count, split, set_seed, heldout)}
        prompts = {p: t for p, t in prompts.items() if t is not None and p not in seen}
        if name == "train":
            seen = set(prompts)
        sets[name] = (list(prompts.values()), _conditions(pipe, list(prompts)))
    features = {"last_block": lambda c: c[-1].flatten(1), "token_mean": lambda c: c.mean(2).permute(1, 0, 2).flatten(1)}

    def rows(name: str, target: str, feature) -> tuple[torch.Tensor, torch.Tensor]:
        targets, condition = sets[name]
        keep = [i for i, t in enumerate(targets) if target in t]
        return feature(condition[:, keep]), torch.tensor([targets[i][target] for i in keep], dtype=torch.long)

    out = {}
    for target in sorted({t for targets in sets["train"][0] for t in targets}):
        classes = PROBE_CLASSES[target.split(".")[1].split("_")[0]]
        out[target] = {name: [round(a, 3) for a in linear_probe(*rows("train", target, f),
                                                                [rows(s, target, f) for s in ("unseen", "heldout")], classes)]
                       for name, f in features.items()}
    return out


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
