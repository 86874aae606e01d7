import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tiny_pipe():
    from uniimage import UniImagePipeline

    return UniImagePipeline.from_pretrained("tiny")
