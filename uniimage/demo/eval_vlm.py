"""Greedy answers of the stage-0 VLM to ShapesEval VQA questions, judged with `judge_vqa`.

Same prompt set as `uniimage eval shapes --task vqa` (PROMPT_SEED, images rendered at 256 px), but
on the bare Qwen2.5-VL folder, before any UniImage wrapper exists.
"""

from __future__ import annotations

import torch

from uniimage.processing import image_token_types
from uniimage.shapes.evaluate import PROMPT_SEED, SOURCE_IMAGE_SIZE
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.render import render_scene
from uniimage.shapes.score import judge_vqa
from uniimage.shapes.vqa import vqa_items

from .describe import DESCRIBE_PROMPT, describe_scene
from .vlm_data import pixels, prompt_text


@torch.no_grad()
def answer(model, tokenizer, processor, images, prompts, max_new_tokens: int = 12) -> list[str]:
    """Left-padded batch, greedy decoding; returns the decoded replies."""
    pixel_values, grid, n_image = pixels(processor, images)
    texts = [prompt_text(tokenizer, p, n_image) for p in prompts]
    enc = tokenizer(texts, padding=True, padding_side="left", add_special_tokens=False, return_tensors="pt")
    out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=pixel_values,
                         image_grid_thw=grid, mm_token_type_ids=image_token_types(enc["input_ids"], tokenizer),
                         max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def vqa_accuracy(model, tokenizer, processor, split: str = "heldout", n: int = 200, batch: int = 25,
                 image_size: int = SOURCE_IMAGE_SIZE) -> dict:
    """{"overall": mean over kinds, "<kind>": accuracy, "n": n} on the eval prompt set."""
    model.eval()
    items = vqa_items(n, split, PROMPT_SEED, heldout_combinations())
    hits: dict[str, list[bool]] = {}
    for start in range(0, n, batch):
        chunk = items[start:start + batch]
        replies = answer(model, tokenizer, processor, [render_scene(i.scene, image_size) for i in chunk],
                         [i.question for i in chunk])
        for item, reply in zip(chunk, replies):
            hits.setdefault(item.kind, []).append(judge_vqa(reply, item.answer)[0])
    scores = {kind: sum(v) / len(v) for kind, v in hits.items()}
    return {"overall": sum(scores.values()) / len(scores), **scores, "n": n}


def describe_accuracy(model, tokenizer, processor, n: int = 50, batch: int = 25,
                      image_size: int = SOURCE_IMAGE_SIZE) -> float:
    """Share of training-split scenes (the VQA prompt set's) whose "Describe this image." answer is exactly the
    caption stage 0 taught (`describe_scene`), letter case and surrounding spaces aside."""
    model.eval()
    scenes = [item.scene for item in vqa_items(n, "train", PROMPT_SEED, heldout_combinations())]
    hits = 0
    for start in range(0, n, batch):
        chunk = scenes[start:start + batch]
        replies = answer(model, tokenizer, processor, [render_scene(s, image_size) for s in chunk],
                         [DESCRIBE_PROMPT] * len(chunk), max_new_tokens=64)
        hits += sum(r.strip().lower() == describe_scene(s).strip().lower() for r, s in zip(replies, chunk))
    return hits / n
