"""The EMA of the trainable weights: its values, exact resume, and what export writes."""

from __future__ import annotations

import pytest
import torch
from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

from uniimage.errors import CheckpointError, ConfigError
from uniimage.training.config import EMAConfig
from uniimage.training.trainer import Trainer


def test_ema_follows_diffusers_decay_ramp(tmp_path, shapes_jsonl):
    trainer = Trainer(tiny_config(tmp_path / "run", shapes_jsonl, max_steps=2, **{"ema.decay": 0.99}))
    trainer.train(until=1)
    after_one = trainable(trainer)
    # The first update copies the weights (decay 0); the second uses (1 + 1) / (10 + 1).
    for name, weight in after_one.items():  # s - (s - w): w up to rounding
        torch.testing.assert_close(trainer.ema.weights()[name], weight, rtol=0, atol=1e-6)
    trainer.train(until=2)
    after_two, d = trainable(trainer), 2 / 11
    for name, shadow in trainer.ema.weights().items():
        torch.testing.assert_close(shadow, d * after_one[name] + (1 - d) * after_two[name], rtol=0, atol=1e-6)
    assert max((trainer.ema.weights()[n] - after_two[n]).abs().max().item() for n in after_two) > 1e-5
    assert trainer.ema.updates == 2


def test_ema_resumes_exactly_and_export_writes_it(tmp_path, shapes_jsonl):
    from safetensors.torch import load_file

    from uniimage.training.export import export_checkpoint
    from uniimage.training.model_source import load_trained_model

    fields = {"ema.decay": 0.9, "ema.warmup": True}
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    straight.train()
    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 2, **fields)
    assert resumed.ema.updates == 2
    resumed.train()
    assert_same_trainable(straight.ema.weights(), resumed.ema.weights(), atol=1e-6)

    saved = load_file(str(tmp_path / "a" / "checkpoint-4" / "ema.safetensors"))
    assert sorted(saved) == sorted(trainable(straight))
    model, _, _ = load_trained_model(tmp_path / "a")  # auto: the average
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], t) for n, t in saved.items())
    trained, _, _ = load_trained_model(tmp_path / "a", weights="trained")
    last = trainable(straight)
    assert torch.equal(dict(trained.named_parameters())["connector.0.weight"], last["connector.0.weight"])
    assert not torch.equal(saved["connector.0.weight"], last["connector.0.weight"])
    exported = load_file(str(export_checkpoint(tmp_path / "a", tmp_path / "exported") / "model.safetensors"))
    assert torch.equal(exported["model.connector.0.weight"], saved["connector.0.weight"])


def test_ema_errors_are_named(tmp_path, shapes_jsonl):
    from uniimage.training.model_source import load_trained_model

    with pytest.raises(ConfigError, match="ema.decay must be between 0 and 1"):
        EMAConfig(decay=1.0).validate()
    Trainer(tiny_config(tmp_path / "plain", shapes_jsonl, max_steps=2)).train()
    with pytest.raises(CheckpointError, match="has no ema.safetensors"):
        load_trained_model(tmp_path / "plain", weights="ema")
    with pytest.raises(CheckpointError, match="weights must be one of auto, ema, trained"):
        load_trained_model(tmp_path / "plain", weights="average")
