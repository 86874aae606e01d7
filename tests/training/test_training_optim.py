"""AdamW + warmup then cosine to the minimum LR."""

import pytest
import torch

from uniimage.training.config import OptimConfig
from uniimage.training.optim import build_optimizer, build_scheduler


def test_warmup_then_cosine_to_min():
    cfg = OptimConfig(lr=1e-4, warmup_steps=10, min_lr=1e-5)
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg)
    sched = build_scheduler(opt, cfg, total_steps=110)
    lrs = []
    for _ in range(120):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-5) and lrs[9] == pytest.approx(1e-4)  # linear warmup
    assert lrs[60] == pytest.approx(1e-5 + 0.5 * 9e-5)  # half way down the cosine
    assert lrs[110] == pytest.approx(1e-5) and lrs[119] == pytest.approx(1e-5)  # floor, held
    assert all(a >= b for a, b in zip(lrs[9:110], lrs[10:111]))
    g = opt.param_groups[0]
    assert (g["betas"], g["eps"], g["weight_decay"]) == ((0.9, 0.999), 1e-8, 0.05)
