"""Logit adjustment for the answer stage: the question words' answer prior, counted on training examples, is
what the loss adds to the logits; a pair the training split never shows gets a strongly negative adjustment,
and with no adjustment the loss is exactly the model's own language-model loss."""

import math
import random

import pytest
import torch

from uniimage.demo.answer_layers import answer_examples, grow_answer_layers, train_answer_layers
from uniimage.demo.answer_prior import AnswerPrior, adjusted_lm_loss, question_key
from uniimage.demo.describe import DESCRIBE_PROMPT
from uniimage.demo.vlm_data import Example, collate
from uniimage.errors import ConfigError
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.scene import Scene


def test_question_key_blanks_colour_and_shape_words():
    assert question_key("What shape is the red object?") == ("what shape is the {} object?", ("red",))
    assert question_key("how many circles are there?") == ("how many {} are there?", ("circles",))
    assert question_key("is there an orange star in the image?") == ("is there an {} {} in the image?", ("orange", "star"))


def test_a_pair_the_training_split_never_shows_is_pushed_down(tiny):
    _, processor, _ = tiny
    tok = processor.tokenizer
    scene = Scene((), "white")
    # red is a square or a triangle in training, never a circle; circles are blue.
    train = [Example(scene, "what shape is the red object?", s) for s in ("square", "triangle") * 20]
    train += [Example(scene, "what shape is the blue object?", "circle")] * 40
    prior = AnswerPrior(tok, tau=1.0, smoothing=1.0).fit(train)
    first = tok("circle", add_special_tokens=False)["input_ids"][0]
    square = tok("square", add_special_tokens=False)["input_ids"][0]
    bias = prior.bias(Example(scene, "what shape is the red object?", "circle"))
    # P(circle | form) = 1/2; P(circle | form, red) = (0 + 1 * 1/2) / (40 + 1): log of their ratio.
    assert bias[0][first] == pytest.approx(math.log((0.5 / 41) / 0.5))
    if square != first:
        assert bias[0][square] > 0  # red answers lean to the shapes it was seen as
    assert len(bias) == len(tok("circle" + tok.eos_token, add_special_tokens=False)["input_ids"])
    # captions, unknown forms and tau = 0 adjust nothing
    assert all(b == {} for b in prior.bias(Example(scene, DESCRIBE_PROMPT, "a red square")))
    assert all(b == {} for b in prior.bias(Example(scene, "is it big?", "yes")))
    assert all(b == {} for b in AnswerPrior(tok, tau=0.0).fit(train).bias(train[0]))


def test_bad_settings_are_refused(tiny):
    _, processor, _ = tiny
    with pytest.raises(ConfigError, match="tau"):
        AnswerPrior(processor.tokenizer, tau=-1.0)
    with pytest.raises(ConfigError, match="smoothing"):
        AnswerPrior(processor.tokenizer, smoothing=0.0)


def test_zero_adjustment_is_the_models_own_loss_and_bias_sits_on_the_answer(tiny):
    model, processor, components = tiny
    tok, images = processor.tokenizer, components.image_processor()
    examples = answer_examples(6, seed=2, describe_share=0.0)
    inputs = collate(examples, tok, images, random.Random(0))
    with torch.no_grad():
        reference = model.mllm(**inputs).loss
        labels = inputs.pop("labels")
        logits = model.mllm(**inputs).logits
    assert torch.allclose(adjusted_lm_loss(logits, labels, torch.zeros(*labels.shape, logits.shape[-1])), reference, atol=1e-6)
    prior = AnswerPrior(tok).fit(answer_examples(400, seed=5, describe_share=0.0))
    bias = prior.batch_bias(examples, labels, logits.shape[-1])
    unlabelled = labels == -100
    assert bias[unlabelled].abs().sum() == 0  # the prompt is never adjusted
    assert bias[~unlabelled].abs().sum() > 0


def test_answer_layers_train_with_the_adjustment(tiny):
    model, processor, components = tiny
    grow_answer_layers(model, 1)
    examples = answer_examples(16, seed=1, describe_share=0.25)
    losses = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=12,
                                 batch=4, lr=3e-3, prior_tau=1.0)
    assert len(losses) == 12 and all(math.isfinite(x) for x in losses) and sum(losses[-3:]) < sum(losses[:3])


def test_heldout_pairs_are_never_in_the_training_examples_it_counts():
    held = heldout_combinations()
    for ex in answer_examples(300, seed=4, describe_share=0.0):
        form, words = question_key(ex.prompt)
        if form.startswith("what shape") or form.startswith("which shape"):
            assert (words[0], ex.answer) not in held.color_shapes
