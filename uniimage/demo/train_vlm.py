"""Stage 0a: train the tiny Qwen2.5-VL as a small VLM (language-model loss on answers) and save it
as a transformers folder, then measure held-out VQA accuracy.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from .answer_prior import adjusted_lm_loss
from .cell_supervision import CellHeads, TowerTap
from .data_parallel import share, token_scale
from .eval_vlm import vqa_accuracy
from .schedule import log_progress, lr_at, optimizer_step, set_lr
from .sizes import Sizes
from .tokenizer import build_tokenizer
from .vlm_build import build_vlm, image_processor, param_count, save_vlm
from .vlm_data import collate, read_examples, render_sides

logger = logging.getLogger(__name__)


def make_vlm(sizes: Sizes, seed: int, tokenizer_texts: int = 600, init=None):
    """A fresh model and tokenizer, or (`init`: a folder this module saved) one to keep training."""
    if init is not None:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(init)
        return model, AutoTokenizer.from_pretrained(init), image_processor(sizes.image_side)
    tokenizer = build_tokenizer(n=tokenizer_texts)
    return build_vlm(tokenizer, sizes, seed), tokenizer, image_processor(sizes.image_side)


def train_steps(model, tokenizer, processor, examples, steps: int, batch: int, lr: float, seed: int,
                warmup: int = 100, log_every: int = 50, cell_weight: float = 0.0, params=None,
                name: str = "vlm", prior=None, rank: int = 0, world: int = 1, cell_positions: bool = False,
                position=None) -> list[float]:
    """AdamW on the LM loss (+ cell_weight x the per-cell loss on the image tokens, when > 0) over `params`
    (default: every parameter of `model`); deterministic batches from `seed`. With `prior` (an
    `answer_prior.AnswerPrior`), the LM loss is taken on logit-adjusted logits; `cell_positions`: the per-cell
    heads also read each token's grid position (`cell_supervision.CellHeads`). With `world` > 1 (gloo processes,
    `data_parallel.py`) this process trains on its share of each global batch of `batch`. `position`: (a
    `position_supervision.PositionHeads`, its weight) adds that loss on the position questions. Returns the loss of
    every step."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    params = list(model.parameters() if params is None else params)
    if cell_weight:
        cells = CellHeads(model.config.vision_config.out_hidden_size, positions=cell_positions)
        tap = TowerTap(model.model.visual)
        params += list(cells.parameters())
    heads, position_weight = position if position else (None, 0.0)
    if heads is not None:
        params += list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    model.train()
    losses, start = [], time.time()
    order: list[int] = []
    for step in range(steps):
        if len(order) < batch:  # reshuffle per epoch
            order += rng.sample(range(len(examples)), len(examples))
        picked, order = order[:batch], order[batch:]
        sides = render_sides(len(picked), rng)  # drawn for the whole batch: every process draws alike
        picked, sides = share(picked, rank, world), share(sides, rank, world)
        inputs = collate([examples[i] for i in picked], tokenizer, processor, rng, sides)
        scale = token_scale(inputs["labels"], world) if world > 1 else 1.0
        set_lr(optimizer, lr_at(step, steps, lr, min(warmup, max(1, steps // 10))))
        batch_examples = [examples[i] for i in picked]
        if prior is None:
            out = model(**inputs, output_hidden_states=heads is not None)
            loss = out.loss * scale
        else:
            labels = inputs.pop("labels")
            out = model(**inputs, output_hidden_states=heads is not None)
            bias = prior.batch_bias(batch_examples, labels, out.logits.shape[-1])
            loss = adjusted_lm_loss(out.logits, labels, bias) * scale
            inputs["labels"] = labels
        if heads is not None:
            loss = loss + position_weight * heads.loss(out.hidden_states, inputs["input_ids"], inputs["labels"],
                                                       batch_examples, tokenizer)
        if cell_weight:
            merge = model.config.vision_config.spatial_merge_size
            rows, cols = (int(n) // merge for n in inputs["image_grid_thw"][0, 1:])
            loss = loss + cell_weight * cells.loss(tap.take(len(picked)), [examples[i].scene for i in picked], rows, cols)
        optimizer_step(optimizer, loss, params, losses, world=world)
        if rank == 0:
            log_progress(name, step, steps, losses, log_every, start)
    if cell_weight:
        tap.remove()
    return losses


def train_vlm(data_dir, out_dir, sizes: Sizes, steps: int, batch: int = 32, lr: float = 1e-3, seed: int = 0,
              eval_n: int = 200, tokenizer_texts: int = 600, init=None, cell_weight: float = 0.0,
              cell_positions: bool = False, tower_only: bool = False) -> dict:
    """Train (or with `init`, keep training) the VLM and save it with a report. tower_only: only the vision tower
    learns (with `init`), so the text layers keep reading what they learnt while the tower's tokens gain what the
    per-cell loss asks (a tower phase: the edit cell slots copy shape from these tokens)."""
    if tower_only and (init is None or not cell_weight):
        raise ValueError("tower_only trains an existing VLM's tower (init) on the per-cell loss (cell_weight > 0)")
    start = time.time()
    model, tokenizer, processor = make_vlm(sizes, seed, tokenizer_texts, init)
    params = None
    if tower_only:
        model.requires_grad_(False)  # no gradients for what stays
        params = list(model.model.visual.requires_grad_(True).parameters())
    examples = read_examples(data_dir, "train")
    logger.info("vlm: %d params (%d vision), %d examples", param_count(model), param_count(model.model.visual), len(examples))
    losses = train_steps(model, tokenizer, processor, examples, steps, batch, lr, seed, cell_weight=cell_weight,
                         cell_positions=cell_positions, params=params)
    train_seconds = time.time() - start
    save_vlm(model, tokenizer, processor, Path(out_dir))
    report = {"params": param_count(model), "steps": steps, "batch": batch, "final_loss": sum(losses[-20:]) / len(losses[-20:]),
              "train_seconds": round(train_seconds, 1), "init": str(init) if init else None,
              "rope_theta": model.config.text_config.rope_parameters["rope_theta"], "cell_weight": cell_weight,
              "cell_positions": cell_positions, "tower_only": tower_only}
    if eval_n:
        report["vqa_heldout"] = vqa_accuracy(model, tokenizer, processor, "heldout", eval_n)
        report["vqa_train"] = vqa_accuracy(model, tokenizer, processor, "train", eval_n)
    (Path(out_dir) / "stage0_report.json").write_text(json.dumps(report, indent=2) + "\n")
    logger.info("vlm report: %s", report)
    return report
