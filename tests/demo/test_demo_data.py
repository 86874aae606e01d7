"""Stage-0 data: captions, tokenizer, chat-format batches with loss on the answers only."""

import random

import torch

from uniimage.demo.describe import describe_scene
from uniimage.demo.tokenizer import SPECIAL_TOKENS, build_tokenizer
from uniimage.demo.vlm_build import image_processor
from uniimage.demo.vlm_data import IGNORE, collate, read_examples
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.scene import Scene, ShapeObject


def test_describe_scene_names_colours_counts_and_place():
    pair = Scene((ShapeObject("star", "blue", (0.75, 0.5), 0.2), ShapeObject("circle", "red", (0.25, 0.5), 0.2)))
    assert describe_scene(pair) == "a red circle to the left of a blue star"
    many = Scene(tuple(ShapeObject("square", "green", (x, 0.5), 0.15) for x in (0.2, 0.5, 0.8)))
    assert describe_scene(many) == "three green squares"


def test_tokenizer_has_qwen_specials_and_chat_format():
    tok = build_tokenizer(n=30)
    ids = [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]
    assert len(set(ids)) == len(SPECIAL_TOKENS) and min(ids) >= len(tok) - len(SPECIAL_TOKENS)
    chat = tok.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
                                   tokenize=False, add_generation_prompt=True)
    assert chat.startswith("<|im_start|>system\n") and "<|vision_start|><|image_pad|><|vision_end|>hi" in chat
    assert chat.endswith("<|im_start|>assistant\n")
    assert len(tok.tokenize(" red circle")) == 2  # shape words are whole tokens


def test_examples_are_training_split_only(demo_data):
    heldout = heldout_combinations()
    examples = read_examples(demo_data)
    assert len(examples) == 24
    assert not any(heldout.scene_touches(ex.scene.objects) for ex in examples)


def test_labels_cover_only_the_answer(demo_data):
    tok = build_tokenizer(n=30)
    examples = read_examples(demo_data)[:3]
    batch = collate(examples, tok, image_processor(56), random.Random(0))
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4]] * 3
    for row, ex in zip(batch["labels"], examples):
        kept = row[row != IGNORE].tolist()
        assert tok.decode(kept) == ex.answer + "<|im_end|>"
    assert (batch["input_ids"] == tok.convert_tokens_to_ids("<|image_pad|>")).sum(1).tolist() == [4] * 3
    # image tokens are marked, so Qwen2.5-VL gives them (t, h, w) positions as UniImage's forwards do
    assert torch.equal(batch["mm_token_type_ids"], (batch["input_ids"] == tok.convert_tokens_to_ids("<|image_pad|>")).int())


def test_described_copy_keeps_images_and_names_every_object(demo_data, tmp_path):
    import json

    from uniimage.demo.describe import write_described

    src = demo_data / "train.jsonl"
    n = write_described(src, tmp_path / "described.jsonl")
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    out = [json.loads(line) for line in (tmp_path / "described.jsonl").read_text().splitlines()]
    assert n == len(rows) == len(out) > 0
    for a, b in zip(rows, out):
        assert b["image"] == a["image"] and b["meta"] == a["meta"]
        for obj in a["meta"]["scene"]["objects"]:  # colour and shape of every object are in the caption
            assert obj["color"] in b["caption"] and obj["shape"] in b["caption"]


def test_colours_only_names_colours_and_counts_never_shapes():
    from uniimage.demo.describe import colours_only

    pair = Scene((ShapeObject("star", "blue", (0.75, 0.5), 0.2), ShapeObject("circle", "red", (0.25, 0.5), 0.2)))
    assert colours_only(pair) == "a red shape and a blue shape"
    mixed = Scene((ShapeObject("square", "orange", (0.2, 0.5), 0.15), ShapeObject("star", "orange", (0.5, 0.5), 0.15),
                   ShapeObject("circle", "green", (0.8, 0.5), 0.15)))
    assert colours_only(mixed) == "two orange shapes and a green shape"


def test_colours_only_copy_drops_every_shape_word(demo_data, tmp_path):
    import json

    import pytest

    from uniimage.demo.describe import write_described
    from uniimage.shapes.vocab import PLURALS, SHAPES

    src = demo_data / "train.jsonl"
    n = write_described(src, tmp_path / "colours.jsonl", captioner="colours")
    out = [json.loads(line) for line in (tmp_path / "colours.jsonl").read_text().splitlines()]
    assert n == len(out) > 0
    for row in out:
        words = set(row["caption"].split())
        assert not words & (set(SHAPES) | set(PLURALS.values()))
        assert all(obj["color"] in words for obj in row["meta"]["scene"]["objects"])
    with pytest.raises(ValueError, match="captioner must be one of"):
        write_described(src, tmp_path / "x.jsonl", captioner="shapes")
    assert not (tmp_path / "x.jsonl").exists()
