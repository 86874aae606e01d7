"""The training noise schedule comes from the checkpoint's noise-scheduler folder, built the way the
published code builds it (FlowMatchEulerDiscreteScheduler from that folder's config)."""

import json
from pathlib import Path

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from training_helpers import tiny_config

from uniimage import UniImagePipeline
from uniimage.errors import CheckpointError
from uniimage.pipelines.schedulers import load_noise_schedule, training_noise_schedule
from uniimage.training import Trainer

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tbac-tiny-a"  # the public golden fixture, inside the repository


def test_published_folder_gives_shift_one():
    # The published layout's noise_scheduler_id folder holds SANA's DPM-Solver config (flow_shift 3 is a
    # sampler setting FlowMatchEuler does not read): training gets 1000 steps, shift 1.
    folder = FIXTURE / "base" / "Sana-tiny" / "scheduler"
    assert json.loads(next(folder.glob("*.json")).read_text())["flow_shift"] == 3.0
    schedule = load_noise_schedule(folder)
    assert schedule.config.shift == 1.0 and schedule.config.num_train_timesteps == 1000
    assert torch.equal(schedule.sigmas, training_noise_schedule().sigmas)


def test_tiny_run_trains_on_its_checkpoints_schedule(tmp_path, shapes_jsonl):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl))
    assert torch.equal(t.loss_fn.sigmas, training_noise_schedule().sigmas[:1000])


def test_a_checkpoint_shipping_another_schedule_is_honoured(tmp_path, shapes_jsonl):
    folder = tmp_path / "model"
    UniImagePipeline.from_pretrained("tiny").save_pretrained(folder)
    FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0).save_config(folder / "noise" / "scheduler")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, noise_scheduler_id="noise")))
    t = Trainer(tiny_config(tmp_path / "run", shapes_jsonl, model="{pretrained: %s}" % folder))
    b = t.loss_fn.noise(torch.zeros(3, 1), torch.ones(3, 1), torch.tensor([0, 500, 999]))
    # shift 3: sigma = 3 s / (1 + 2 s) for the unshifted s = 1, 0.5, 0.001; the DiT sees 1000 sigma
    s = torch.tensor([1.0, 0.5, 0.001])
    expected = 3 * s / (1 + 2 * s)
    assert torch.allclose(b.sigmas, expected, atol=1e-6) and torch.allclose(b.timesteps, 1000 * expected, atol=1e-3)
    assert torch.allclose(b.noisy.view(-1), expected, atol=1e-6)  # x_t = (1 - sigma) * 0 + sigma * 1
    t.train(until=1)  # and it trains on it


def test_unreadable_noise_schedule_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read the training noise schedule in"):
        load_noise_schedule(tmp_path / "missing")
