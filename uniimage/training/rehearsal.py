"""Language-model rehearsal: the MLLM keeps answering questions while the generation loss trains it.

The published recipe freezes a strong pretrained MLLM, so understanding cannot drift. A user who
unfreezes MLLM layers (freeze.mllm_last_layers, LoRA on the MLLM) changes the weights that answer
questions too; rehearsal adds, in the same step, the next-token loss on question-answer pairs in the
understanding chat format (`UniImageProcessor.understanding_inputs`, what `pipe.understand` asks with):

    loss = flow_matching + rehearsal.weight * cross_entropy(answer tokens | image, question)

Image tokens get Qwen2.5-VL's 3D (t, h, w) rotary positions, as in `pipe.understand` (the batch carries
`mm_token_type_ids`; without it transformers falls back to 1D positions, which rehearsal used before 50346cd).

Rows: JSONL with `image` (relative to the file's folder, or absolute), `question` and `answer`
(ShapesEval's `*_vqa.jsonl` as written). The order is a fixed permutation per (seed, epoch), so the
position ({epoch, index}) is the whole state and a resumed run reads what the straight run read.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from PIL import Image

from ..errors import ConfigError
from ..processing import IM_END, image_token_types

IGNORE = -100  # label of tokens that carry no loss (the prompt, padding)


class RehearsalData:
    def __init__(self, path: str | Path, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"rehearsal.path {self.path} does not exist (a JSONL of image / question / answer rows)")
        self.rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.rows = self.rows[rank::world_size]  # each rank rehearses its own rows
        for row in self.rows[:1] + self.rows[-1:]:  # the first and last rows stand for the file
            missing = {"image", "question", "answer"} - set(row)
            if missing:
                raise ConfigError(f"rehearsal rows need image, question and answer; {self.path} lacks {sorted(missing)}")
        if len(self.rows) < batch_size:
            raise ConfigError(f"rehearsal: {self.path} has {len(self.rows)} rows for this rank, fewer than batch_size {batch_size}")
        self.batch_size, self.seed = batch_size, seed
        self.epoch, self.index = 0, 0

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.rows)))
        random.Random(f"rehearsal:{self.seed}:{epoch}").shuffle(order)
        return order

    def next_rows(self) -> list[dict]:
        if self.index + self.batch_size > len(self.rows):  # drop the epoch's tail: every batch is full
            self.epoch, self.index = self.epoch + 1, 0
        picked = self._order(self.epoch)[self.index : self.index + self.batch_size]
        self.index += self.batch_size
        return [self.rows[i] for i in picked]

    def image(self, row: dict) -> Image.Image:
        path = Path(row["image"])
        return Image.open(path if path.is_absolute() else self.path.parent / path).convert("RGB")

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict):
        self.epoch, self.index = int(state["epoch"]), int(state["index"])


def lm_inputs(processor, images: list[Image.Image], questions: list[str], answers: list[str]) -> dict:
    """A right-padded batch in the understanding format, labels on each answer and its <|im_end|> only."""
    tokenizer = processor.tokenizer
    rows, labels, pixels, grids = [], [], [], []
    for image, question, answer in zip(images, questions, answers):
        prompt = processor.understanding_inputs([image], question)
        reply = tokenizer(answer + IM_END, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        ids = prompt.input_ids[0][prompt.attention_mask[0].bool()]
        rows.append(torch.cat([ids, reply]))
        labels.append(torch.cat([torch.full_like(ids, IGNORE), reply]))
        pixels.append(prompt.pixel_values)
        grids.append(prompt.image_grid_thw)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def right_pad(tensors, value):
        return torch.stack([torch.cat([t, t.new_full((width - len(t),), value)]) for t in tensors])

    mask = right_pad([torch.ones_like(r) for r in rows], 0)
    input_ids = right_pad(rows, pad)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": right_pad(labels, IGNORE),
            "pixel_values": torch.cat(pixels), "image_grid_thw": torch.cat(grids),
            "mm_token_type_ids": image_token_types(input_ids, tokenizer)}


def next_lm_inputs(data: RehearsalData, processor) -> dict:
    rows = data.next_rows()
    return lm_inputs(processor, [data.image(r) for r in rows], [r["question"] for r in rows], [str(r["answer"]) for r in rows])


def lm_loss(mllm, inputs: dict) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens (transformers shifts the labels)."""
    return mllm(**inputs).loss
