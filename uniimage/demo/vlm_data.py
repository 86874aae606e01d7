"""VLM training examples from the ShapesEval JSONL files, and batches in Qwen's chat format.

An example is (scene, prompt, answer): VQA rows give (question -> short answer), t2i rows give
("Describe this image." -> the scene's full caption). Scenes are re-rendered at a random size, so
the model sees both upscaled small renders and downscaled large ones (evaluation renders at 256 px).
Loss falls only on the assistant's answer and its closing <|im_end|>.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from uniimage.processing import image_token_types
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene

from .describe import DESCRIBE_PROMPT, describe_scene

RENDER_SIDES = (64, 112, 256)
IGNORE = -100


@dataclass(frozen=True)
class Example:
    scene: Scene
    prompt: str
    answer: str


def read_examples(data_dir: Path, split: str = "train") -> list[Example]:
    data_dir = Path(data_dir)
    examples = []
    for line in (data_dir / f"{split}_vqa.jsonl").read_text().splitlines():
        row = json.loads(line)
        examples.append(Example(Scene.from_dict(row["meta"]["scene"]), row["question"], row["answer"]))
    for line in (data_dir / f"{split}.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["meta"].get("task") == "t2i":
            scene = Scene.from_dict(row["meta"]["scene"])
            examples.append(Example(scene, DESCRIBE_PROMPT, describe_scene(scene)))
    return examples


def prompt_text(tokenizer, prompt: str, image_tokens: int) -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text.replace("<|image_pad|>", "<|image_pad|>" * image_tokens)


def pixels(processor, images):
    """-> (pixel_values, image_grid_thw, merged tokens per image); min = max pixels, so one count."""
    out = processor(images=images, return_tensors="pt")
    grid = out["image_grid_thw"]
    return out["pixel_values"], grid, int(grid[0].prod()) // processor.merge_size ** 2


def render_sides(n: int, rng: random.Random) -> list[int]:
    """The pixel size each of `n` examples is rendered at (drawn in order, so a batch split across processes
    renders each example as one process would)."""
    return [rng.choice(RENDER_SIDES) for _ in range(n)]


def collate(examples: list[Example], tokenizer, processor, rng: random.Random, sides: list[int] | None = None) -> dict:
    """Right-padded training batch with labels on the answers only; each image at its size in `sides` (default:
    drawn from `rng`)."""
    sides = render_sides(len(examples), rng) if sides is None else sides
    images = [render_scene(ex.scene, side) for ex, side in zip(examples, sides, strict=True)]
    pixel_values, grid, n_image = pixels(processor, images)
    rows, labels = [], []
    for ex in examples:
        prefix = tokenizer(prompt_text(tokenizer, ex.prompt, n_image), add_special_tokens=False)["input_ids"]
        answer = tokenizer(ex.answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        rows.append(prefix + answer)
        labels.append([IGNORE] * len(prefix) + answer)
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    label_ids = torch.tensor([lab + [IGNORE] * (width - len(lab)) for lab in labels])
    return {"input_ids": input_ids, "attention_mask": attention, "labels": label_ids,
            "pixel_values": pixel_values, "image_grid_thw": grid, "mm_token_type_ids": image_token_types(input_ids, tokenizer)}
