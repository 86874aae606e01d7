"""Edit slots by grid cell, for the slot stage (slots.py, `--edits`): query q of an edit prompt holds the TARGET
object centred in cell q of a grid x grid split of the picture (shape, colour or none, and which half of the cell
its centre lies in, across and down), read by linear heads at every ladder depth.

Why: an edit is drawn from the query tokens alone, and the demo's 8 small text layers did not carry the source scene
into them under any earlier layout (demo README, "Editing: where the source scene is lost"). Tying query q to image
cell q removes the ranking a "k-th object from the left" layout needs, and one attention head per query taught to
look at its own cell's image token (`cell_attention_loss`) is the route: without it every cell is predicted empty.
The target only differs from the source in one object, so most cells are copies. An added object must have a
fixed place in the targets (`shapes_data --edit-add-grid`): its random place cannot be predicted. Measured in the
demo README, "Edit slots by grid cell" (96 whole target scenes of 200 after 2000 steps, with a tower whose tokens
know their cell).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from ..shapes.layout import grid_cell
from ..shapes.scene import Scene
from ..shapes.vocab import COLORS, SHAPES
from .vision_probe import cell_targets as probe_cell_targets
from .word_attention import COLOUR_HEAD, SHAPE_HEAD, _find, _word_ids

# Classes per attribute; the last one of each means "no object centred in this cell".
CLASSES = {"shape": len(SHAPES) + 1, "colour": len(COLORS) + 1, "x_half": 3, "y_half": 3}
EMPTY = {"shape": len(SHAPES), "colour": len(COLORS), "x_half": 2, "y_half": 2}
CELL_HEAD = 2  # heads 0 and 1 are the word heads (word_attention.py)
SOURCE_SIZES = (64, 128, 256)  # the evaluation renders sources at 256 px, the editing data at 64


def cell_of(center, grid: int) -> tuple[int, float, float]:
    """(row-major cell index, position across and down inside the cell in [0, 1)) of a centre in [0, 1]^2."""
    cell = grid_cell(center, grid, grid)
    return cell, center[0] * grid - cell % grid, center[1] * grid - cell // grid


def cell_targets(scenes: list[Scene], grid: int) -> dict[str, torch.Tensor]:
    """attribute -> [B, grid * grid] class per cell (EMPTY where no object's centre lies): the vision probe's shape
    and colour per cell, and which half of its cell each centre lies in."""
    out = probe_cell_targets(scenes, grid, grid)
    for half in ("x_half", "y_half"):
        out[half] = torch.full((len(scenes), grid * grid), EMPTY[half])
    for i, scene in enumerate(scenes):
        for obj in scene.objects:
            cell, across, down = cell_of(obj.center, grid)
            out["x_half"][i, cell] = int(across >= 0.5)
            out["y_half"][i, cell] = int(down >= 0.5)
    return out


def changed_object(source: Scene, target: Scene):
    """The target's object that is not in the source (recoloured, added or moved), or None (a removal)."""
    before = {(o.shape, o.color, tuple(o.center)) for o in source.objects}
    return next((o for o in target.objects if (o.shape, o.color, tuple(o.center)) not in before), None)


class EditCellHeads(nn.Module):
    """Linear read-outs of the edit query states (normed per depth), shared across depths and cells."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in CLASSES.items()})

    def loss(self, states: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """states [K, B, grid^2, H]; targets[k] [B, grid^2]. Mean cross-entropy over depths, cells, attributes."""
        x = self.norm(states.float())
        return torch.stack([nn.functional.cross_entropy(head(x).flatten(0, 2), targets[k].expand(x.shape[0], -1, -1).flatten())
                            for k, head in self.heads.items()]).mean()

    @torch.no_grad()
    def accuracy(self, states: torch.Tensor, targets: dict[str, torch.Tensor], kinds: list[str]) -> dict:
        """At the deepest depth: share right per attribute over cells that hold an object (`empty`: empty cells
        predicted empty), `whole` = share of rows with all cells right, `whole_<kind>` per edit kind."""
        x = self.norm(states[-1].float())
        pred = {k: head(x).argmax(-1) for k, head in self.heads.items()}
        occupied = targets["shape"] != EMPTY["shape"]
        out = {k: round(float((pred[k] == targets[k])[occupied].float().mean()), 3) for k in CLASSES}
        out["empty"] = round(float((pred["shape"] == EMPTY["shape"])[~occupied].float().mean()), 3)
        whole = torch.stack([pred[k] == targets[k] for k in CLASSES]).all(0).all(-1)
        out["whole"] = round(float(whole.float().mean()), 3)
        for kind in sorted(set(kinds)):
            rows = torch.tensor([k == kind for k in kinds])
            out[f"whole_{kind}"] = round(float(whole[rows].float().mean()), 3)
        return out


def cell_attention_loss(caught: dict, query_positions: torch.Tensor, image_positions: torch.Tensor) -> torch.Tensor:
    """Mean over layers, rows and queries of -log(attention mass of head CELL_HEAD of query q on image token q).
    query_positions, image_positions [B, grid^2] (image tokens in the grid's row-major order)."""
    rows = torch.arange(len(query_positions), device=query_positions.device)[:, None]
    terms = [-torch.log(w[rows, CELL_HEAD, query_positions, image_positions].clamp_min(1e-6)).mean() for w in caught.values()]
    return torch.stack(terms).mean()


def changed_word_loss(caught: dict, query_positions: torch.Tensor, tokenizer, input_ids: torch.Tensor,
                      edits: list[dict], grid: int) -> torch.Tensor:
    """Head COLOUR_HEAD / SHAPE_HEAD of the changed object's cell query attends to that object's colour / shape
    word in the instruction, where the instruction names it (a recolour's new colour, an added object): the one
    cell an edit writes rather than copies. -log of the mass, mean over layers and found words; 0 if none."""
    terms = []
    for b, edit in enumerate(edits):
        obj = changed_object(edit["source"], edit["target"])
        if obj is None:
            continue
        query = query_positions[b, cell_of(obj.center, grid)[0]]
        ids = input_ids[b, : int(query_positions[b, 0])].tolist()
        for head, word in ((COLOUR_HEAD, obj.color), (SHAPE_HEAD, obj.shape)):
            word_ids = list(_word_ids(tokenizer, word))
            at = _find(ids, word_ids, 0)
            if at >= 0:
                for w in caught.values():
                    terms.append(-torch.log(w[b, head, query, at:at + len(word_ids)].sum().clamp_min(1e-6)))
    if not terms:
        return torch.zeros((), device=query_positions.device)
    return torch.stack(terms).mean()


def read_edits(path: Path, batch: int) -> list[dict]:
    """{instruction, kind, source, target (Scene)} per edit row of a ShapesEval editing JSONL (meta.source_scene
    and meta.target_scene are the cell targets' source)."""
    if not path.is_file():
        raise ConfigError(f"slots: edits file {path} does not exist (a ShapesEval editing JSONL, e.g. data-edit/train.jsonl)")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        meta = json.loads(line).get("meta", {})
        if meta.get("task") != "edit":
            continue
        if not {"instruction", "source_scene", "target_scene"} <= set(meta):
            raise ConfigError(f"slots: {path} line {i + 1} is an edit without meta.instruction, meta.source_scene and "
                              "meta.target_scene (the edit cell targets are read from them)")
        out.append({"instruction": meta["instruction"], "kind": meta.get("tag", "edit"),
                    "source": Scene.from_dict(meta["source_scene"]), "target": Scene.from_dict(meta["target_scene"])})
    if len(out) < batch:
        raise ConfigError(f"slots: {path} has {len(out)} edit rows, fewer than the edit batch of {batch}")
    return out


def edit_inputs(processor, edits: list[dict], rng: random.Random):
    """Generation inputs of a batch of edits, each source rendered from its scene at a size drawn from SOURCE_SIZES
    (the processor resizes to its budget; mixed sizes keep the slots right on the evaluation's 256 px sources)."""
    from ..shapes.render import render_scene

    size = rng.choice(SOURCE_SIZES)
    return processor.generation_inputs([e["instruction"] for e in edits], [[render_scene(e["source"], size)] for e in edits])


def image_positions(input_ids: torch.Tensor, image_token_id: int, cells: int) -> torch.Tensor:
    """[B, cells] positions of each row's image tokens (one image, `cells` tokens in row-major grid order)."""
    found = [(row == image_token_id).nonzero().squeeze(1) for row in input_ids]
    if any(len(f) != cells for f in found):
        raise ValueError(f"edit cell slots: every edit row needs one image of {cells} tokens (a grid of the queries' "
                         f"{cells} cells), got {[len(f) for f in found]}; set image_pixels so the merged grid matches")
    return torch.stack(found)
