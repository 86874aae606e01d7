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


def test_part_lr_gives_each_part_its_peak_and_one_schedule():
    cfg = OptimConfig(lr=1e-3, warmup_steps=2, min_lr=1e-4, part_lr={"mllm": 1e-4})
    cfg.validate()
    dit, mllm = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    opt = build_optimizer({"mllm": [mllm], "queries": [], "dit": [dit]}, cfg)
    assert [g["part"] for g in opt.param_groups] == ["mllm", "dit"]  # empty parts get no group
    sched = build_scheduler(opt, cfg, total_steps=12)
    assert sched.get_last_lr() == pytest.approx([0.5e-4, 0.5e-3])  # warmup scales both
    for _ in range(20):
        opt.step()
        sched.step()
    assert sched.get_last_lr() == pytest.approx([1e-5, 1e-4])  # each ends at its peak x min_lr / lr


@pytest.mark.parametrize("part_lr, message", [({"vae": 1e-4}, "unknown parts ['vae']"), ({"dit": 0}, "part_lr.dit must be a positive")])
def test_part_lr_bad_values_are_named(part_lr, message):
    from uniimage.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        OptimConfig(part_lr=part_lr).validate()


def test_trainer_gives_mllm_layers_their_own_lr_and_resumes(tmp_path, shapes_jsonl):
    from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

    from uniimage.training.trainer import Trainer

    fields = {"freeze.mllm_last_layers": 1, "optim.part_lr.mllm": 1e-5, "optim.part_lr.queries": 2e-4, "max_steps": 4}
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    groups = {g["part"]: g for g in straight.optimizer.param_groups}
    assert sorted(groups) == ["connector", "dit", "mllm", "queries"]
    assert [groups[p]["initial_lr"] for p in ("mllm", "queries", "connector", "dit")] == [1e-5, 2e-4, 1e-3, 1e-3]
    assert groups["queries"]["params"][0] is straight.model.queries
    straight.train()

    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 2, **fields)
    resumed.train()
    assert_same_trainable(trainable(straight), trainable(resumed), atol=1e-6)
