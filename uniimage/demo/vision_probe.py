"""Do the MLLM's image tokens hold the scene? A linear probe per token of the merged patch grid.

Why: an edit can only be drawn if the source scene reaches the query tokens, and it can only reach them
through the image tokens the vision tower hands the language model (16 for the demo: 112 px, 14 px patches
merged 2 x 2). This probe asks the first half of that question. Each image token is paired with the object
whose centre lies in its cell of the grid (or "none"); one linear read-out per attribute (shape, colour),
trained on scenes at the size stage 0 rendered them (64 px), is scored on other scenes at the size
`uniimage eval shapes` renders edit sources (256 px). Chance on object cells is 1 / shapes and 1 / colours.

    python -m uniimage.cli.demo_vision_probe demo
"""

from __future__ import annotations

import torch
from torch import nn

from ..shapes.edits import edit_items
from ..shapes.evaluate import PROMPT_SEED
from ..shapes.heldout import heldout_combinations
from ..shapes.layout import grid_cell
from ..shapes.render import render_scene
from ..shapes.vocab import COLORS, SHAPES

ATTRIBUTES = {"shape": list(SHAPES), "colour": list(COLORS)}
SCENE_SEEDS = {"train": 11, "test": PROMPT_SEED}  # edit sources; the test set is `eval shapes`'s own


def cell_targets(scenes, rows: int, cols: int) -> dict[str, torch.Tensor]:
    """attribute -> [B, rows * cols] class of the object centred in each cell; len(values) where none is."""
    out = {k: torch.full((len(scenes), rows * cols), len(v)) for k, v in ATTRIBUTES.items()}
    for i, scene in enumerate(scenes):
        for obj in scene.objects:
            cell = grid_cell(obj.center, rows, cols)
            out["shape"][i, cell] = ATTRIBUTES["shape"].index(obj.shape)
            out["colour"][i, cell] = ATTRIBUTES["colour"].index(obj.color)
    return out


@torch.no_grad()
def image_tokens(model, processor, images, pixels: int | None = None, batch: int = 100):
    """-> ([B, T, H] merged image tokens, (rows, cols) of their grid) at `pixels` per image (default: the
    generation budget, processor.image_pixels)."""
    out, grid = [], None
    for i in range(0, len(images), batch):
        pixel_values, grid = processor.pixels(images[i : i + batch], pixels or processor.image_pixels)
        out += list(model.image_features(pixel_values, grid).pooler_output)
    merge = model.mllm.config.vision_config.spatial_merge_size
    return torch.stack(out).float(), (int(grid[0, 1]) // merge, int(grid[0, 2]) // merge)


def fit_probe(features, targets, steps: int = 1500, lr: float = 3e-3, batch: int = 256, seed: int = 0) -> nn.ModuleDict:
    """One linear read-out per attribute over layer-normed tokens, fitted with Adam on cross-entropy."""
    torch.manual_seed(seed)
    probe = nn.ModuleDict({k: nn.Linear(features.shape[-1], len(ATTRIBUTES[k]) + 1) for k in targets})
    optim = torch.optim.Adam(probe.parameters(), lr=lr)
    x_all = nn.functional.layer_norm(features, features.shape[-1:])
    for _ in range(steps):
        idx = torch.randint(0, len(features), (min(batch, len(features)),))
        loss = sum(nn.functional.cross_entropy(head(x_all[idx]).flatten(0, 1), targets[k][idx].flatten())
                   for k, head in probe.items())
        optim.zero_grad()
        loss.backward()
        optim.step()
    return probe


@torch.no_grad()
def score_probe(probe, features, targets) -> dict[str, float]:
    """Share right on cells with an object (`shape`, `colour`) and on empty cells (`shape_empty`, ...)."""
    x = nn.functional.layer_norm(features, features.shape[-1:])
    out = {}
    for k, head in probe.items():
        right = head(x).argmax(-1) == targets[k]
        real = targets[k] != len(ATTRIBUTES[k])
        out[k] = round(float(right[real].float().mean()), 3)
        out[f"{k}_empty"] = round(float(right[~real].float().mean()), 3)
    return out


def run(model, processor, n_train: int = 3000, n_test: int = 500, pixels: int | None = None,
        train_size: int = 64, test_size: int = 256, steps: int = 1500) -> dict:
    """Fit on n_train edit-source scenes at train_size px, score on n_test others at test_size px."""
    held = heldout_combinations()
    scenes = {part: [it.source for it in edit_items(n, "train", SCENE_SEEDS[part], held)]
              for part, n in (("train", n_train), ("test", n_test))}
    feats, grid = image_tokens(model, processor, [render_scene(s, train_size) for s in scenes["train"]], pixels)
    test_feats, _ = image_tokens(model, processor, [render_scene(s, test_size) for s in scenes["test"]], pixels)
    probe = fit_probe(feats, cell_targets(scenes["train"], *grid), steps=steps)
    chance = {k: round(1 / len(v), 3) for k, v in ATTRIBUTES.items()}
    return {"grid": list(grid), "tokens": feats.shape[1], "chance": chance,
            **score_probe(probe, test_feats, cell_targets(scenes["test"], *grid))}
