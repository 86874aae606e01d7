"""What the launch environment asks for is what runs, or a clear error (never a quiet fallback)."""

import pytest
import torch

from uniimage.errors import ConfigError
from uniimage.training.trainer import make_accelerator


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_deepspeed_launch_without_cuda_is_refused_not_run_as_ddp(tmp_path, shapes_jsonl, monkeypatch):
    from training_helpers import tiny_config

    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what `accelerate launch` with a ZeRO config sets
    with pytest.raises(ConfigError, match="asks for DeepSpeed, but no CUDA device is available"):
        make_accelerator(tiny_config(tmp_path / "run", shapes_jsonl))
