"""ShapesEval: generate (or answer) on ShapesEval prompts and score programmatically.
The command (`cli/shapes_eval.py`):

    uniimage eval shapes --model M [--split heldout|train] [--limit N] [--task t2i|edit|vqa]
                         [--json] [--out results.jsonl] [--seed S] [--steps N] [--guidance G]
                         [--images-per-prompt K]

The loops take any `pipe` with the UniImagePipeline call signature, so they are testable without
a model. Accuracy is per image; a category's score is the mean over its images and `overall` is
the mean over categories (GenEval's convention, so small categories weigh as much as big ones).
With --json, stdout carries exactly one JSON object: {"overall": x, "<category>": y, ...}.
"""

from __future__ import annotations

import json
from pathlib import Path

from .detect import detect_objects
from .edits import edit_items, edit_metadata, placed_anywhere
from .factors import FACTORS, factor_shares, factor_verdicts
from .heldout import heldout_combinations
from .prompts import t2i_items
from .render import render_scene
from .score import judge_detections, judge_edit, judge_vqa
from .vqa import vqa_items

TASKS = ("t2i", "edit", "vqa")
PROMPT_SEED = 2024  # the prompt set is fixed; --seed only changes the generators' noise
DEFAULT_LIMIT = {"t2i": 120, "edit": 40, "vqa": 50}
SOURCE_IMAGE_SIZE = 256  # edit sources and VQA images are rendered at this size for the model


def _generator(seed: int):
    import torch  # imported late: data and scoring need no torch

    return torch.Generator().manual_seed(seed)


def _row(task, category, prompt, metadata, verdicts, factors: list[dict] | None = None) -> dict:
    flags = [ok for ok, _ in verdicts]
    reasons = [reason for _, reason in verdicts]
    first_failure = next((reason for ok, reason in verdicts if not ok), "ok")
    return {
        "task": task,
        "category": category,
        "prompt": prompt,
        "metadata": metadata,
        "correct": sum(flags) / len(flags) if flags else 0.0,  # fraction of this prompt's images
        "image_correct": flags,
        "reason": first_failure,
        "reasons": reasons,
    } | ({"factors": {f: [v[f] for v in factors] for f in FACTORS}} if factors else {})


def _images(output, expected: int) -> list:
    images = list(getattr(output, "images", output))
    if len(images) != expected:
        raise RuntimeError(f"pipeline returned {len(images)} images, expected {expected}")
    return images


def run_t2i(pipe, split, limit, seed, steps, guidance, images_per_prompt, guidance_interval=None) -> list[dict]:
    rows = []
    for index, item in enumerate(t2i_items(limit, split, PROMPT_SEED, heldout_combinations())):
        output = pipe(item.prompt, num_inference_steps=steps, guidance_scale=guidance,
                      num_images_per_prompt=images_per_prompt, generator=_generator(seed + index), guidance_interval=guidance_interval)
        detections = [detect_objects(image) for image in _images(output, images_per_prompt)]
        verdicts = [judge_detections(found, item.metadata) for found in detections]
        factors = [factor_verdicts(found, item.metadata) for found in detections]
        rows.append(_row("t2i", item.metadata["tag"], item.prompt, item.metadata, verdicts, factors))
    return rows


def run_edit(pipe, split, limit, seed, steps, guidance, images_per_prompt, image_size, guidance_interval=None,
             image_guidance=1.5) -> list[dict]:
    rows = []
    for index, item in enumerate(edit_items(limit, split, PROMPT_SEED, heldout_combinations())):
        source = render_scene(item.source, image_size)
        output = pipe(item.instruction, image=source, num_inference_steps=steps, guidance_scale=guidance,
                      image_guidance_scale=image_guidance, num_images_per_prompt=images_per_prompt,
                      generator=_generator(seed + index), guidance_interval=guidance_interval)
        verdicts = [judge_edit(image, item.target, placed_anywhere=placed_anywhere(item)) for image in _images(output, images_per_prompt)]
        rows.append(_row("edit", item.kind, item.instruction, edit_metadata(item), verdicts))
    return rows


def run_vqa(pipe, split, limit, image_size) -> list[dict]:
    rows = []
    for item in vqa_items(limit, split, PROMPT_SEED, heldout_combinations()):
        answer = pipe.understand(render_scene(item.scene, image_size), item.question, max_new_tokens=16)
        metadata = {"expected": item.answer, "answer": answer, "scene": item.scene.to_dict()}
        rows.append(_row("vqa", item.kind, item.question, metadata, [judge_vqa(answer, item.answer)]))
    return rows


def summarise(rows: list[dict]) -> dict:
    by_category: dict[str, list[float]] = {}
    for row in rows:
        by_category.setdefault(row["category"], []).append(row["correct"])
    scores = {category: sum(values) / len(values) for category, values in by_category.items()}
    overall = sum(scores.values()) / len(scores) if scores else 0.0
    factors = factor_shares(rows)  # t2i only: which part of the prompts the images get right
    return {"overall": overall, **scores} | ({"factors": factors} if factors else {})


def evaluate(pipe, task="t2i", split="heldout", limit=None, seed=0, steps=20, guidance=4.5,
             images_per_prompt=1, image_size=SOURCE_IMAGE_SIZE, guidance_interval=None, image_guidance=1.5) -> list[dict]:
    """guidance_interval: (lo, hi) for the pipeline; None keeps the model's default. image_guidance: the edit task's
    image guidance scale (the pipeline's default, 1.5)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    limit = DEFAULT_LIMIT[task] if limit is None else limit
    if limit < 1 or images_per_prompt < 1:
        raise ValueError("--limit and --images-per-prompt must be >= 1")
    if not image_guidance >= 0:
        raise ValueError(f"--image-guidance must be >= 0, got {image_guidance}")
    interval = None if guidance_interval is None else tuple(guidance_interval)  # None: the pipeline's default
    if task == "t2i":
        return run_t2i(pipe, split, limit, seed, steps, guidance, images_per_prompt, interval)
    if task == "edit":
        return run_edit(pipe, split, limit, seed, steps, guidance, images_per_prompt, image_size, interval, image_guidance)
    return run_vqa(pipe, split, limit, image_size)


def write_results(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
