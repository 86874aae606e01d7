"""Fixtures of the training tests: one small synthetic data set per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shapes_jsonl(tmp_path_factory):
    """16 text-to-image + 8 editing ShapesEval samples, 32 px, as a JSONL manifest."""
    from uniimage.shapes.dataset import write_dataset

    out = tmp_path_factory.mktemp("shapes")
    return write_dataset(out, 16, 8, 0, image_size=32, formats=("jsonl",))["jsonl"]


@pytest.fixture(scope="session")
def vqa_jsonl(tmp_path_factory):
    """12 training-split VQA rows (rehearsal data), 32 px, as a JSONL manifest."""
    from uniimage.shapes.dataset import write_dataset

    out = tmp_path_factory.mktemp("vqa")
    write_dataset(out, 0, 0, 12, image_size=32, formats=("jsonl",))
    return out / "train_vqa.jsonl"
