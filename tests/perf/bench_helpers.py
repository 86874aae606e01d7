"""Fixtures and helpers of the bench tests (imported by name: a conftest.py here would shadow tests/conftest.py)."""

import pytest
import torch
from PIL import Image


@pytest.fixture()
def fresh_pipe():
    """A tiny pipeline of its own: these tests move, hook and modify weights."""
    from uniimage import UniImagePipeline

    return UniImagePipeline.from_pretrained("tiny")


@pytest.fixture()
def source_image():
    return Image.linear_gradient("L").resize((40, 24)).convert("RGB")


def generate(pipe, prompt="a red cube", **kwargs):
    kwargs.setdefault("num_inference_steps", 1)
    return pipe(prompt, generator=torch.Generator().manual_seed(0), output_type="pt", progress=False, **kwargs).images
