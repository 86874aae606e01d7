"""Shared by the training tests: tiny configs on a small synthetic ShapesEval set."""

from __future__ import annotations

import torch

from uniimage.training import load_config

torch.set_num_threads(1)


def tiny_config(out, data_jsonl, **fields):
    """The tiny preset on `data_jsonl`, fast settings; `fields` are dotted overrides (key=value)."""
    data = {
        "output_dir": str(out),
        "model": {"preset": "tiny"},
        "data": {"datasets": [{"path": str(data_jsonl), "type": "jsonl"}], "cfg_dropout": "auto"},
        "max_steps": 4,
        "batch_size": 2,
        "optim": {"lr": 1e-3, "warmup_steps": 2, "min_lr": 1e-4},
        "checkpoint": {"every": 2, "keep": 2},
        "log": {"every": 1, "tensorboard": False, "progress": False},
    }
    return load_config(data=data, overrides=[f"{k}={v}" for k, v in fields.items()])


def trainable(trainer) -> dict:
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
