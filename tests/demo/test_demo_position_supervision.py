"""The position questions' dense targets in stage 4 (uniimage/demo/position_supervision.py)."""

import random

import pytest
import torch

from uniimage.demo.answer_layers import answer_examples, answer_layer_start, grow_answer_layers, train_answer_layers
from uniimage.demo.position_supervision import SCALE, PositionHeads, position_targets
from uniimage.demo.vlm_data import Example, collate
from uniimage.errors import ConfigError
from uniimage.shapes.scene import Scene, ShapeObject


def _scene():
    return Scene((ShapeObject("circle", "red", (0.25, 0.5), 0.2), ShapeObject("square", "blue", (0.75, 0.4), 0.2)))


def test_targets_name_each_shape_words_object_centre():
    targets = position_targets(Example(_scene(), "is the square left of the circle?", "no"))
    assert targets == (("square", (0.75, 0.4)), ("circle", (0.25, 0.5)))
    assert position_targets(Example(_scene(), "what color is the circle?", "red")) is None
    assert position_targets(Example(_scene(), "is the star left of the circle?", "no")) is None  # no star in the scene


def test_the_loss_is_the_read_outs_squared_error(tiny):
    model, processor, components = tiny
    tokenizer = processor.tokenizer
    examples = [Example(_scene(), "is the circle left of the square?", "yes"), Example(_scene(), "what color is the circle?", "red")]
    inputs = collate(examples, tokenizer, components.image_processor(), random.Random(0), [32, 32])
    heads = PositionHeads(8, 1, 2)
    torch.nn.init.zeros_(heads.word.weight)
    torch.nn.init.zeros_(heads.word.bias)
    torch.nn.init.zeros_(heads.diff.weight)
    with torch.no_grad():
        heads.diff.bias.copy_(torch.tensor([1.0, 0.0]))
    hidden = [torch.randn(2, inputs["input_ids"].shape[1], 8) for _ in range(3)]
    loss = heads.loss(hidden, inputs["input_ids"], inputs["labels"], examples, tokenizer)
    # only the first row is a position question: words read (0, 0) against both centres, diff reads (1, 0)
    words = ((0.25 ** 2 + 0.5 ** 2) + (0.75 ** 2 + 0.4 ** 2)) / 4 * SCALE ** 2
    diff = ((1 - (0.25 - 0.75) * SCALE) ** 2 + (0 - 0.1 * SCALE) ** 2) / 2
    assert loss.item() == pytest.approx(words + diff, rel=1e-5)
    none = heads.loss(hidden, inputs["input_ids"], inputs["labels"], examples[1:] * 2, tokenizer)
    assert none.item() == 0.0  # no position question in the batch


def test_training_adds_the_position_loss_beside_the_answers(tiny):
    model, processor, components = tiny
    grow_answer_layers(model, 2)
    examples = [e for e in answer_examples(80, seed=3, describe_share=0.0) if position_targets(e)][:4]
    assert len(examples) == 4
    plain = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=1, batch=4, lr=0.0)
    aided = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=1, batch=4, lr=0.0,
                                position_weight=1.0)
    assert aided[0] > plain[0] + 0.1  # the same batch: the loss adds the (positive) read-out errors


def test_the_position_targets_need_two_answer_layers(tiny):
    model, processor, components = tiny
    grow_answer_layers(model, 0)
    assert model.num_mllm_layers - answer_layer_start(model) == 1  # the test size's ladder leaves one free layer
    with pytest.raises(ConfigError, match="at least two answer layers"):
        train_answer_layers(model, processor.tokenizer, components.image_processor(), answer_examples(4, seed=0), steps=1,
                            batch=2, position_weight=1.0)
