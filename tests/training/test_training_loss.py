"""The flow-matching loss as published, and its SD3 options."""

import pytest
import torch

from uniimage.training.config import LossConfig
from uniimage.training.loss import FlowMatchingLoss


def test_published_noising_and_target():
    loss = FlowMatchingLoss()
    x0, noise = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    idx = torch.tensor([0, 500, 999])
    b = loss.noise(x0, noise, idx)
    sigma = torch.tensor([1.0, 0.5, 0.001])  # FlowMatchEuler, 1000 steps, shift 1: timestep 1000 - i, sigma = t / 1000
    assert torch.allclose(b.sigmas, sigma, atol=1e-6) and torch.allclose(b.timesteps, sigma * 1000, atol=1e-3)
    s = sigma.view(-1, 1, 1, 1)
    assert torch.allclose(b.noisy, (1 - s) * x0 + s * noise, atol=1e-6)
    assert torch.equal(b.target, noise - x0)
    pred = torch.randn_like(x0)
    assert torch.allclose(loss(pred, b), ((pred - (noise - x0)) ** 2).mean())  # plain MSE


def test_uniform_timesteps_cover_the_schedule():
    idx = FlowMatchingLoss().sample_indices(20000, torch.Generator().manual_seed(0))
    assert idx.min() == 0 and idx.max() == 999
    assert abs(idx.float().mean().item() - 499.5) < 10


@pytest.mark.parametrize("sampling", ["logit_normal", "mode"])
@pytest.mark.parametrize("weighting", ["sigma_sqrt", "cosmap"])
def test_sd3_options(sampling, weighting):
    loss = FlowMatchingLoss(LossConfig(timestep_sampling=sampling, weighting=weighting))
    idx = loss.sample_indices(4000, torch.Generator().manual_seed(0))
    assert 0 <= idx.min() and idx.max() <= 999
    if sampling == "logit_normal":  # mass in the middle, unlike uniform
        assert ((idx > 250) & (idx < 750)).float().mean() > 0.6
    b = loss.noise(torch.randn(4, 2, 2, 2), torch.randn(4, 2, 2, 2), idx[:4])
    value = loss(torch.zeros(4, 2, 2, 2), b)
    assert torch.isfinite(value) and value > 0
