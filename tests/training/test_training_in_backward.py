"""optim.in_backward: each parameter stepped inside the backward pass. The same weights as the ordinary loop
(no clipping), exact resume, frozen weights untouched, no gradient left, hooks gone after training, and a
clear refusal for each setting it cannot honour."""

import importlib.util
import math
from types import SimpleNamespace

import pytest
import torch
from accelerate.utils import DistributedType
from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

from uniimage.errors import ConfigError
from uniimage.presets import build_preset
from uniimage.training import Trainer
from uniimage.training.in_backward import StepInBackward, check_single_process

NO_CLIP = {"optim.max_grad_norm": 0}
IN_BACKWARD = {"optim.in_backward": "true", **NO_CLIP}
OPTIMIZERS = ["adamw"] + (["adamw8bit"] if importlib.util.find_spec("torchao") else [])


def hooked(t: Trainer) -> list[str]:
    """Trainable parameters that still carry a post-accumulate-grad hook."""
    return [n for n, p in t.model.named_parameters() if getattr(p, "_post_accumulate_grad_hooks", None)]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_same_weights_as_the_ordinary_loop(tmp_path, shapes_jsonl, name):
    # Part LRs (2 param groups), warmup + cosine, rehearsal-free mixed t2i / edit data, 4 steps.
    fields = {"max_steps": 4, "optim.name": name, "freeze.mllm_last_layers": 1, "optim.part_lr.queries": 2e-3}
    loop = Trainer(tiny_config(tmp_path / "loop", shapes_jsonl, **NO_CLIP, **fields))
    a = loop.train()
    inside = Trainer(tiny_config(tmp_path / "inside", shapes_jsonl, **IN_BACKWARD, **fields))
    b = inside.train()
    assert_same_trainable(trainable(loop), trainable(inside), atol=1e-6)
    assert b["losses"] == pytest.approx(a["losses"], rel=1e-5)
    assert inside.scheduler.get_last_lr() == loop.scheduler.get_last_lr()
    assert math.isnan(b["grad_norm"]) and a["grad_norm"] > 0  # no global norm inside the backward
    for p, q in zip(loop.params, inside.params):  # optimizer state too (step counts, moments)
        assert int(loop.optimizer.state[p]["step"]) == int(inside.optimizer.state[q]["step"]) == 4
        if name == "adamw":
            torch.testing.assert_close(inside.optimizer.state[q]["exp_avg_sq"], loop.optimizer.state[p]["exp_avg_sq"],
                                       rtol=1e-5, atol=1e-12)


def test_composes_with_ema_and_rehearsal(tmp_path, shapes_jsonl, vqa_jsonl):
    # Rehearsal's LM loss is in the same backward (it reaches the trained MLLM layer); EMA follows the
    # weights after each step's backward: both as with the ordinary loop.
    fields = {"max_steps": 3, "freeze.mllm_last_layers": 1, "ema.decay": 0.9, "rehearsal.path": str(vqa_jsonl),
              "rehearsal.batch_size": 2, "rehearsal.weight": 0.5}
    loop = Trainer(tiny_config(tmp_path / "loop", shapes_jsonl, **NO_CLIP, **fields))
    a = loop.train()
    inside = Trainer(tiny_config(tmp_path / "inside", shapes_jsonl, **IN_BACKWARD, **fields))
    b = inside.train()
    assert b["lm_loss"] == pytest.approx(a["lm_loss"], rel=1e-5)
    assert_same_trainable(trainable(loop), trainable(inside), atol=1e-6)
    assert_same_trainable(loop.ema.weights(), inside.ema.weights(), atol=1e-6)
    assert inside.ema.updates == 3


def test_exact_resume(tmp_path, shapes_jsonl):
    fields = dict(max_steps=6, **IN_BACKWARD, **{"checkpoint.every": 3})
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    straight.train()
    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 3, **fields)
    resumed.train()
    assert_same_trainable(trainable(straight), trainable(resumed))
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr()


def test_frozen_untouched_no_grad_left_and_hooks_removed(tmp_path, shapes_jsonl):
    reference = dict(build_preset("tiny", seed=0)[0].named_parameters())
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=2, **IN_BACKWARD))
    seen = []  # during the step: every trainable parameter hooked; after it, none
    original = t.micro_step
    t.micro_step = lambda *a: (seen.append(len(hooked(t))), original(*a))[1]
    t.train()
    assert seen == [len(t.trainable_names)] * 2 and hooked(t) == []
    names = set(t.trainable_names)
    for name, p in t.model.named_parameters():
        assert p.grad is None, name
        assert torch.equal(p, reference[name]) != (name in names), name  # frozen: bit-identical; trained: moved
    # After train(): a backward through the model leaves ordinary gradients and steps nothing.
    queries = t.model.queries
    before = queries.detach().clone()
    queries.sum().backward()
    assert queries.grad is not None and torch.equal(queries, before)


def test_hooks_removed_when_the_step_fails(tmp_path, shapes_jsonl):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=2, **IN_BACKWARD))

    def fail(*a):
        raise RuntimeError("data went away")

    t.micro_step = fail
    with pytest.raises(RuntimeError, match="data went away"):
        t.train()
    assert hooked(t) == []


def test_step_in_backward_steps_each_parameter_alone():
    # Two param groups, one backward: each hook call updates its own parameter, as one step over both would.
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    ref = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    groups = lambda x, y: [{"params": [x], "lr": 0.1}, {"params": [y], "lr": 0.01}]  # noqa: E731
    opt, ref_opt = torch.optim.AdamW(groups(a, b)), torch.optim.AdamW(groups(*ref))
    with StepInBackward(opt, [a, b]):
        ((a * 2).sum() + (b ** 2).sum()).backward()
    ((ref[0] * 2).sum() + (ref[1] ** 2).sum()).backward()
    ref_opt.step()
    assert torch.equal(a, ref[0]) and torch.equal(b, ref[1]) and a.grad is None and b.grad is None
    assert [len(g["params"]) for g in opt.param_groups] == [1, 1]  # the narrowing undone


@pytest.mark.parametrize("fields, message", [
    ({"grad_accum": 2, **NO_CLIP}, "cannot accumulate: grad_accum is 2"),
    ({}, r"cannot clip by the global norm \(optim.max_grad_norm: 0.5\).*set optim.max_grad_norm: 0"),
    ({"precision": "fp16", **NO_CLIP}, "does not work with precision: fp16"),
])
def test_refusals_in_the_config(tmp_path, shapes_jsonl, fields, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(tmp_path, shapes_jsonl, **{"optim.in_backward": "true"}, **fields)


def test_clipping_off_by_zero_or_null_and_negative_refused(tmp_path, shapes_jsonl):
    assert tiny_config(tmp_path, shapes_jsonl, **{"optim.max_grad_norm": "null"}).optim.max_grad_norm is None
    assert tiny_config(tmp_path, shapes_jsonl, **{**IN_BACKWARD, "optim.max_grad_norm": "null"}).optim.in_backward
    with pytest.raises(ConfigError, match="optim.max_grad_norm must be >= 0"):
        tiny_config(tmp_path, shapes_jsonl, **{"optim.max_grad_norm": -1})


def test_max_grad_norm_zero_trains_unclipped(tmp_path, shapes_jsonl):
    # 0 once scaled every gradient by 0 (clip_grad_norm_'s bound); now it means off, the norm still logged.
    off = Trainer(tiny_config(tmp_path / "zero", shapes_jsonl, max_steps=2, **NO_CLIP))
    huge = Trainer(tiny_config(tmp_path / "huge", shapes_jsonl, max_steps=2, **{"optim.max_grad_norm": 1e9}))
    s = off.train()
    huge.train()
    assert s["grad_norm"] > 0
    assert_same_trainable(trainable(huge), trainable(off))


@pytest.mark.parametrize("world, kind, precision, message", [
    (2, DistributedType.MULTI_CPU, "no", "this run has 2 process\\(es\\), distributed type MULTI_CPU"),
    (8, DistributedType.MULTI_GPU, "bf16", "this run has 8 process\\(es\\), distributed type MULTI_GPU"),
    (1, DistributedType.FSDP, "no", "1 process\\(es\\), distributed type FSDP"),
    (1, DistributedType.MULTI_CPU, "no", "no DDP, FSDP or DeepSpeed.*1 process\\(es\\), distributed type MULTI_CPU"),
    (2, DistributedType.DEEPSPEED, "bf16", "distributed type DEEPSPEED"),
    (1, DistributedType.NO, "fp16", "fp16 mixed precision"),
])
def test_refusals_at_build_time(world, kind, precision, message):
    with pytest.raises(ConfigError, match=message):
        check_single_process(world, kind, precision)
    check_single_process(1, DistributedType.NO, "bf16")  # one plain process: accepted


def test_trainer_refuses_several_processes_before_building(tmp_path, shapes_jsonl):
    # The accelerator of a 2-process gloo run, as the trainer reads it (a real 2-process start takes a minute).
    acc = SimpleNamespace(process_index=0, num_processes=2, distributed_type=DistributedType.MULTI_CPU, mixed_precision="no")
    with pytest.raises(ConfigError, match="this run has 2 process\\(es\\), distributed type MULTI_CPU"):
        Trainer(tiny_config(tmp_path, shapes_jsonl, **IN_BACKWARD), accelerator=acc)
