"""Demo stage 0b: query slots. Teaches the tiny MLLM's query tokens to hold the caption one object per token.

Why: the DiT reads which words a caption has but not which colour goes with which shape, nor the relation,
although both are linearly decodable from the condition (demo README, "What the DiT reads"). The 16 query
states of one prompt are near copies of one pooled summary, and a cross-attention cannot pick "the colour of
the circle" out of a summary. An oracle condition with one token per object (shape + colour + count) is
read for binding where a per-word one is not (same README). A strong pretrained LLM hands over contextual
per-word states; ours does not, so this stage supervises it towards them: query q names object q % 3 (0, 1)
or the relation (2), read by linear heads at every ladder depth, with language-model rehearsal in the same
steps so understanding is kept. The result is a full model folder that stage 1 starts from (`model.pretrained`).

Its settings are a training config's (`uniimage/configs/demo/slots.yaml`): output_dir (the model folder it
writes), model (the bases), data (one JSONL of prompts with ShapesEval metadata), rehearsal, max_steps,
batch_size, optim.lr / warmup_steps / min_lr, seed.

    python -m uniimage.cli.demo_slots uniimage/configs/demo/slots.yaml
"""

from __future__ import annotations

import json
import logging
import math
import random
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from ..shapes.prompts import caption_objects
from ..shapes.vocab import COLORS, RELATIONS, SHAPES
from .nonce import NONCE_COLOURS, NONCE_SHAPES, nonce_caption, row_objects
from .word_attention import captured_attention, word_attention_loss, word_positions

logger = logging.getLogger("uniimage.demo")

# Optional (`--sides`): each object token also holds the side of the picture its object is on, so the DiT
# can place it by matching a patch's position against one token instead of combining the relation token
# with two object tokens (never read: demo README, "Read the relation"). A relation gives both sides; two
# objects with no relation follow the reading order of the stage-1 scenes (first named on the left).
SIDES = ("left", "right", "top", "bottom")
SIDE_OF = {"left of": ("left", "right"), "right of": ("right", "left"), "above": ("top", "bottom"),
           "below": ("bottom", "top")}

# Classes per attribute, and the class that means "none" (no such object, no colour named, no relation):
# the last one, except for count, where a missing object counts 0.
CLASSES = {"shape": len(SHAPES) + 1, "colour": len(COLORS) + 1, "count": 11, "relation": len(RELATIONS) + 1}
CLASSES_WITH_SIDES = {**CLASSES, "side": len(SIDES) + 1}
NONE = {"shape": len(SHAPES), "colour": len(COLORS), "count": 0, "relation": len(RELATIONS), "side": len(SIDES)}
ROLES = 3  # query q holds object 0, object 1 or the relation, by q % 3


def kinds(sides: bool, nonce: bool = False) -> dict[str, int]:
    """Attribute -> class count for a slot stage with or without the side attribute; with nonce words (nonce.py)
    colour and shape get one class per nonce word after their "none" class."""
    classes = dict(CLASSES_WITH_SIDES if sides else CLASSES)
    if nonce:
        classes["colour"] += len(NONCE_COLOURS)
        classes["shape"] += len(NONCE_SHAPES)
    return classes


def _index(word: str, real, nonce) -> int:
    """Class of a real word (its place in the vocabulary) or of a nonce word (after the "none" class)."""
    return list(real).index(word) if word in real else len(real) + 1 + nonce.index(word)


def slot_targets(meta: dict, sides: bool = False, objects: list[dict] | None = None) -> dict[str, list[int]]:
    """Per role (object 0, object 1, relation): class index of each attribute it must hold. objects: the
    caption's objects in the order it names them (default: read from meta; nonce_caption passes its own)."""
    objects = (caption_objects(meta) if objects is None else objects)[:2]
    rows = {k: [NONE[k]] * ROLES for k in kinds(sides)}
    for i, obj in enumerate(objects):
        rows["shape"][i] = _index(obj["class"], SHAPES, NONCE_SHAPES)
        rows["colour"][i] = _index(obj["color"], COLORS, NONCE_COLOURS) if "color" in obj else NONE["colour"]
        rows["count"][i] = int(obj.get("count", 1))
    if len(objects) == 2 and "position" in objects[0]:
        rows["relation"][2] = RELATIONS.index(objects[0]["position"][0])
    if sides and len(objects) == 2:
        pair = SIDE_OF[objects[0]["position"][0]] if "position" in objects[0] else ("left", "right")
        rows["side"][:2] = [SIDES.index(side) for side in pair]
    return rows


class SlotHeads(nn.Module):
    """Linear read-outs of the query states (normed per depth), shared across depths and roles."""

    def __init__(self, hidden: int, classes: dict[str, int] = CLASSES):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in classes.items()})

    def loss(self, states: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """states [K, B, N, H]; targets[k] [B, ROLES]. Mean cross-entropy over depths, tokens, attributes."""
        x = self.norm(states.float())
        role = torch.arange(x.shape[2], device=x.device) % ROLES
        losses = []
        for kind, head in self.heads.items():
            logits = head(x)  # [K, B, N, C]
            want = targets[kind][:, role].unsqueeze(0).expand(x.shape[0], -1, -1)
            losses.append(nn.functional.cross_entropy(logits.flatten(0, 2), want.flatten()))
        return torch.stack(losses).mean()

    @torch.no_grad()
    def accuracy(self, states: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, float]:
        """Share right per attribute at the deepest ladder depth, over the tokens whose role has the attribute."""
        x = self.norm(states[-1].float())
        role = torch.arange(x.shape[1], device=x.device) % ROLES
        out = {}
        for kind, head in self.heads.items():
            want = targets[kind][:, role]
            real = want != NONE[kind]
            out[kind] = float((head(x).argmax(-1) == want)[real].float().mean()) if real.any() else float("nan")
        return out


def read_rows(path: Path, batch: int) -> list[dict]:
    """The t2i rows of a ShapesEval JSONL; each needs its scene metadata (`meta.include`, `meta.tag`)."""
    if not path.is_file():
        raise ConfigError(f"slots: {path} does not exist (a ShapesEval t2i JSONL, e.g. data-t2i/train.jsonl)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("meta", {}).get("task", "t2i") == "t2i"]
    bad = [i for i, r in enumerate(rows) if not {"include", "tag"} <= set(r.get("meta", {}))]
    if bad:
        raise ConfigError(f"slots: {path} row {bad[0]} has no ShapesEval metadata (meta.include and meta.tag); "
                          "the slot targets are read from it")
    if len(rows) < batch:
        raise ConfigError(f"slots: {path} has {len(rows)} t2i rows, fewer than the batch of {batch}")
    return rows


def batch_targets(rows: list[dict], sides: bool = False) -> dict[str, torch.Tensor]:
    per = [slot_targets(r["meta"], sides, row_objects(r)) for r in rows]
    return {k: torch.tensor([p[k] for p in per]) for k in kinds(sides)}


def with_nonce_words(rows: list[dict], rng: random.Random, share: float) -> list[dict]:
    """Each row, with probability `share`, with nonce colour and shape words in its caption (nonce.py); such a
    row carries its renamed objects (`objects`), which batch_targets reads instead of the metadata's."""
    out = []
    for r in rows:
        if share > 0 and rng.random() < share:
            caption, objects = nonce_caption(r["caption"], caption_objects(r["meta"]), rng)
            r = {**r, "caption": caption, "objects": objects}
        out.append(r)
    return out


@torch.no_grad()
def probe_accuracy(model, processor, heads, split: str, n: int = 240, sides: bool = False, seed: int = 3) -> dict:
    """The heads' accuracy on n fresh prompts of a ShapesEval split ("heldout": every colour-shape pair and
    position triple training never shows), as SlotHeads.accuracy reports it."""
    from ..shapes.heldout import heldout_combinations
    from ..shapes.prompts import t2i_items

    items = t2i_items(n, split, seed, heldout_combinations())
    rows = [{"caption": it.prompt, "meta": it.metadata} for it in items]
    device = next(model.parameters()).device
    inputs = processor.generation_inputs([r["caption"] for r in rows], [[] for _ in rows]).to(device)
    was_training = model.training
    model.eval()
    states, _ = model.ladder_states(inputs.input_ids, inputs.attention_mask)
    model.train(was_training)
    return {k: round(v, 3) for k, v in heads.accuracy(states, batch_targets(rows, sides)).items()}


def lr_factor(step: int, steps: int, warmup: int, floor: float) -> float:
    """Linear warm-up, then cosine down to `floor` x the peak."""
    return min(1.0, step / max(1, warmup)) * (floor + (1 - floor) / 2 * (1 + math.cos(math.pi * step / steps)))


def slot_data(config) -> Path:
    """The one JSONL data set of prompts the slot stage reads."""
    sets = config.data.datasets or []
    if len(sets) != 1 or sets[0].get("type") != "jsonl":
        raise ConfigError("slots: data.datasets must be exactly one jsonl data set (ShapesEval t2i rows with metadata), "
                          f"got {[(d.get('type'), d.get('path')) for d in sets]}")
    return Path(sets[0]["path"])


class EditCells:
    """The edit half of a slot step (edit_cells.py): a batch of edits, their cell loss, and the attention loss of
    each query's cell head on its image token and of the changed cell's word heads on the instruction's words."""

    def __init__(self, model, processor, path: Path, batch: int, attend: float, seed: int, device):
        from .edit_cells import CELL_HEAD, EditCellHeads, read_edits

        n = model.config.num_metaqueries
        self.grid = int(round(math.sqrt(n)))
        if self.grid * self.grid != n:
            raise ConfigError(f"slots: edit cell slots need a square number of query tokens (one per grid cell), got {n}")
        heads = model.mllm.config.text_config.num_attention_heads
        if attend > 0 and heads <= CELL_HEAD:
            raise ConfigError(f"slots: attend_cell trains attention head {CELL_HEAD} of each query (heads 0 and 1 are the "
                              f"word heads); the MLLM's text layers have {heads} heads")
        self.edits, self.batch, self.attend = read_edits(path, batch), batch, attend
        self.rng = random.Random(seed + 1)  # its own draws: the t2i batches stay those of a run without edits
        self.model, self.processor, self.device = model, processor, device
        self.heads = EditCellHeads(model.queries.shape[1]).to(device)
        self.test = None  # score()'s fixed edits, made on its first call

    def losses(self) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (cell loss, attention loss) of one fresh batch."""
        from .edit_cells import cell_attention_loss, cell_targets, changed_word_loss, edit_inputs, image_positions

        picked = self.rng.sample(self.edits, self.batch)
        inputs = edit_inputs(self.processor, picked, self.rng).to(self.device)
        with captured_attention(self.model.mllm) if self.attend > 0 else nullcontext({}) as caught:
            states, _ = self.model.ladder_states(inputs.input_ids, inputs.attention_mask, inputs.pixel_values,
                                                 inputs.image_grid_thw)
        targets = {k: v.to(self.device) for k, v in cell_targets([e["target"] for e in picked], self.grid).items()}
        attention = torch.zeros((), device=self.device)
        if self.attend > 0:
            queries = self.model.query_positions(inputs.input_ids)
            images = image_positions(inputs.input_ids, self.model.mllm.config.image_token_id, self.grid ** 2)
            attention = cell_attention_loss(caught, queries, images) + changed_word_loss(
                caught, queries, self.processor.tokenizer, inputs.input_ids, picked, self.grid)
        return self.heads.loss(states, targets), attention

    @torch.no_grad()
    def score(self, n: int = 200, seed: int = 2024) -> dict:
        """The heads' accuracy (edit_cells.EditCellHeads.accuracy) on n fresh training-split edits, sources rendered
        at 256 px as `eval shapes` renders them, an added object at its fixed place (place_added); the same edits
        at every call."""
        if self.test is None:
            from ..shapes.edits import edit_items
            from ..shapes.heldout import heldout_combinations
            from ..shapes.render import render_scene
            from .edit_cells import cell_targets

            items = edit_items(n, "train", seed, heldout_combinations(), add_grid=self.grid)
            inputs = self.processor.generation_inputs([it.instruction for it in items],
                                                      [[render_scene(it.source, 256)] for it in items]).to(self.device)
            targets = {k: v.to(self.device) for k, v in cell_targets([it.target for it in items], self.grid).items()}
            self.test = inputs, targets, [it.kind for it in items]
        inputs, targets, kinds = self.test
        was_training = self.model.training
        self.model.eval()
        states, _ = self.model.ladder_states(inputs.input_ids, inputs.attention_mask, inputs.pixel_values,
                                             inputs.image_grid_thw)
        self.model.train(was_training)
        return self.heads.accuracy(states, targets, kinds)


def train_slots(config, log_every: int = 50, device: str | None = None, sides: bool = False,
                nonce: float = 0.0, attend: float = 0.0, edits: Path | None = None, edit_batch: int = 16,
                attend_cell: float = 0.0) -> dict:
    """Stage 0b from the model `config.model` builds; saves the whole model (random DiT included) to
    `config.output_dir`. `config` is a TrainConfig (`load_config`). device: default cuda when there is one.
    sides: object tokens also learn which side of the picture their object is on (SIDES).
    nonce: the share of captions given nonce colour and shape words (nonce.py). Every fourth log line also
    scores the heads on fresh training-split and held-out prompts (probe_accuracy).
    attend: weight of the word-attention loss (word_attention.py; 0: off).
    edits: a ShapesEval editing JSONL; each step then also trains `edit_batch` edits' cell slots (edit_cells.py),
    with `attend_cell` the weight of their attention loss (0: off; 0.2 measured)."""
    if not 0.0 <= nonce < 1.0:
        raise ConfigError(f"slots: nonce must be a share in [0, 1), got {nonce}")
    if attend < 0:
        raise ConfigError(f"slots: attend must be >= 0, got {attend}")
    if attend_cell < 0:
        raise ConfigError(f"slots: attend_cell must be >= 0, got {attend_cell}")
    if edits is None and attend_cell:
        raise ConfigError("slots: attend_cell weighs the edit cell slots' attention loss; it needs edits (an editing JSONL)")
    if edits is not None and edit_batch < 1:
        raise ConfigError(f"slots: edit_batch must be >= 1, got {edit_batch}")
    from ..checkpoint.pretrained import save_pretrained
    from ..training.model_source import load_model
    from ..training.rehearsal import RehearsalData, lm_loss, next_lm_inputs

    out, steps, batch, seed = Path(config.output_dir), config.max_steps, config.batch_size, config.seed
    lr, floor = config.optim.lr, config.optim.min_lr / config.optim.lr
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"slots: {out} exists and is not empty; choose a new output_dir (nothing is overwritten)")
    rows = read_rows(slot_data(config), batch)
    spec = config.rehearsal
    rehearsal = RehearsalData(Path(spec.path), spec.batch_size, seed) if spec else None
    lm_weight = spec.weight if spec else 0.0
    torch.manual_seed(seed)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, processor, components = load_model(config.model, torch.float32)
    model.to(device).requires_grad_(False)
    model.text_model.layers.requires_grad_(True)  # the vision tower, vocabulary and head stay as stage 0 made them
    model.queries.requires_grad_(True)
    heads = SlotHeads(model.queries.shape[1], kinds(sides, nonce > 0)).to(device)
    cells = EditCells(model, processor, Path(edits), edit_batch, attend_cell, seed, device) if edits is not None else None
    params = [p for p in model.parameters() if p.requires_grad] + list(heads.parameters())
    params += list(cells.heads.parameters()) if cells else []
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warmup = config.optim.warmup_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optim, lambda i: lr_factor(i + 1, steps, warmup, floor))
    rng, log = random.Random(seed), []
    model.train()
    for step in range(1, steps + 1):
        picked = with_nonce_words(rng.sample(rows, batch), rng, nonce)
        inputs = processor.generation_inputs([r["caption"] for r in picked], [[] for _ in picked]).to(device)
        with captured_attention(model.mllm) if attend > 0 else nullcontext({}) as caught:
            states, _ = model.ladder_states(inputs.input_ids, inputs.attention_mask)
        targets = {k: v.to(device) for k, v in batch_targets(picked, sides).items()}
        slot = heads.loss(states, targets)
        words = torch.zeros((), device=device)
        if attend > 0:
            queries = model.query_positions(inputs.input_ids)
            spans = word_positions(processor.tokenizer, inputs.input_ids, picked, queries[:, 0])
            words = word_attention_loss(caught, queries, spans, ROLES)
        edit = edit_attention = torch.zeros((), device=device)
        if cells:
            edit, edit_attention = cells.losses()
        lm = torch.zeros((), device=device)
        if rehearsal:
            lm = lm_loss(model.mllm, {k: v.to(device) for k, v in next_lm_inputs(rehearsal, processor).items()})
        optim.zero_grad(set_to_none=True)
        (slot + lm_weight * lm + attend * words + edit + attend_cell * edit_attention).backward()
        optim.step()
        schedule.step()
        if step % log_every == 0 or step == steps:
            log.append({"step": step, "slot_loss": round(slot.item(), 4), "lm_loss": round(lm.item(), 4),
                        **({"word_attention_loss": round(words.item(), 4)} if attend > 0 else {}),
                        **({"edit_cell_loss": round(edit.item(), 4), "edit_attention_loss": round(edit_attention.item(), 4)}
                           if cells else {}),
                        "accuracy": {k: round(v, 3) for k, v in heads.accuracy(states.detach(), targets).items()}})
            if step % (4 * log_every) == 0 or step == steps:
                log[-1]["unseen"] = probe_accuracy(model, processor, heads, "train", sides=sides)
                log[-1]["heldout"] = probe_accuracy(model, processor, heads, "heldout", sides=sides)
                if cells:
                    log[-1]["edit_cells"] = cells.score()
            logger.info(json.dumps(log[-1]))
    model.eval().requires_grad_(False).to("cpu")
    save_pretrained(model, components, out)
    report = {"steps": steps, "batch": batch, "lr": lr, "rehearsal_batch": rehearsal.batch_size if rehearsal else 0,
              "seed": seed, "sides": sides, "nonce": nonce, "attend": attend, "edit_cells": cells is not None,
              "edits": str(edits) if edits else None, "edit_batch": edit_batch if cells else 0, "attend_cell": attend_cell,
              "log": log}
    (out / "slots_report.json").write_text(json.dumps(report, indent=1))
    return report
