"""The condition-use diagnostic: prompt dependence of the query states and the right/shuffled loss gap."""

import copy

import pytest
import torch
from PIL import Image

from uniimage.evaluation.condition_use import condition_loss_gap, prompt_dependence, read_pairs
from uniimage.shapes.dataset import write_dataset

CAPTIONS = ["a red circle", "two blue squares", "a star left of a triangle", "three green stars"]


def images(n, size=32):
    return [Image.new("RGB", (size, size), (40 * i, 200 - 40 * i, 90)) for i in range(n)]


def test_prompt_dependence_is_zero_for_one_prompt_and_positive_for_many(tiny_pipeline):
    assert prompt_dependence(tiny_pipeline, ["a red circle"] * 3) == pytest.approx(0.0, abs=1e-9)
    assert prompt_dependence(tiny_pipeline, CAPTIONS) > 1e-4


def test_loss_gap_sees_a_condition_that_carries_nothing(tiny_pipeline):
    gap = condition_loss_gap(tiny_pipeline, images(4), CAPTIONS)
    assert set(gap) == {"right", "shuffled", "empty"} and gap["right"] != gap["shuffled"]
    blind = copy.copy(tiny_pipeline)
    blind.model = copy.deepcopy(tiny_pipeline.model)
    blind.condition_cache = copy.deepcopy(tiny_pipeline.condition_cache)
    with torch.no_grad():  # the connector now ignores the MLLM: every caption gives the same condition
        blind.model.connector[0].weight.zero_()
    gap = condition_loss_gap(blind, images(4), CAPTIONS)
    assert gap["right"] == pytest.approx(gap["shuffled"], abs=1e-6) == pytest.approx(gap["empty"], abs=1e-6)


def test_loss_gap_needs_pairs(tiny_pipeline):
    with pytest.raises(ValueError, match="at least 2"):
        condition_loss_gap(tiny_pipeline, images(1), CAPTIONS[:1])


def test_reads_pairs_from_a_training_jsonl(tmp_path):
    write_dataset(tmp_path, 5, 0, 3, split="train", image_size=32, formats=("jsonl",))
    ims, caps = read_pairs(tmp_path / "train.jsonl", 4)
    assert len(ims) == len(caps) == 4 and all(im.size == (32, 32) for im in ims) and all(caps)
