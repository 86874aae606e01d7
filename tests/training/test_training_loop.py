"""The loop on the tiny preset: loss falls, frozen weights stay bit-identical, exact resume, checkpoints."""

import errno

import pytest
import torch
from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

from uniimage.data import DataError, collate
from uniimage.errors import CheckpointError, ConfigError
from uniimage.presets import build_preset
from uniimage.training import Trainer
from uniimage.training import checkpointing as ckpt


def test_loss_falls_on_tiny_synthetic_set(tmp_path, shapes_jsonl):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=30, batch_size=8, **{
        "checkpoint.every": 100, "data.cfg_dropout": "null", "optim.lr": 1e-2, "optim.min_lr": 1e-3}))
    fixed = collate([s for _, s in zip(range(16), iter(t.batches.stream))])  # 16 samples, fixed noise and t
    t.batches.stream.set_epoch(0)
    before = t.fixed_loss(fixed)
    t.train()
    after = t.fixed_loss(fixed)
    assert after < 0.7 * before, (before, after)  # measured: 1.35 -> 0.69


def test_frozen_weights_bit_identical_and_trained_ones_move(tmp_path, shapes_jsonl):
    reference, _, _ = build_preset("tiny", seed=0)
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=3))  # weight decay 0.05 (published) is on
    assert t.config.optim.weight_decay == 0.05
    in_optimizer = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    assert id(t.model.query_embedding.weight) not in in_optimizer
    t.train()
    ref = dict(reference.named_parameters())
    names = set(t.trainable_names)
    assert names == {n for n in ref if n.startswith(("connector.", "transformer.")) or n.endswith(".queries")}
    for name, p in t.model.named_parameters():
        same = torch.equal(p, ref[name])
        assert same != (name in names), name  # frozen: bit-identical; trained: moved
    vocab = "mllm.model.language_model.embed_tokens.weight"
    assert torch.equal(t.model.query_embedding.weight, ref[vocab])  # the vocabulary rows (tied LM head)
    assert t.model.mllm.lm_head.weight is t.model.query_embedding.weight


def test_exact_resume_matches_straight_run(tmp_path, shapes_jsonl):
    # Mixed t2i/edit data, CFG dropout on, gradient accumulation: N steps == N/2 + stop + resume.
    fields = dict(max_steps=6, grad_accum=2, **{"checkpoint.every": 3})
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    straight.train()
    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 3, **fields)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "b")] == ["checkpoint-3"]
    resumed.train()
    assert_same_trainable(trainable(straight), trainable(resumed))
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr()


def test_checkpoints_keep_last_k_and_reference_frozen_base(tmp_path, shapes_jsonl):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, **{"checkpoint.every": 1, "checkpoint.keep": 2}))
    t.train()
    kept = ckpt.list_checkpoints(tmp_path)
    assert [p.name for p in kept] == ["checkpoint-3", "checkpoint-4"]
    saved = ckpt.load_trainable(kept[-1])
    assert set(saved) == set(t.trainable_names)  # trainable only: no MLLM / VAE copy
    assert not any(k.startswith(("mllm.model.language_model.layers", "vae.")) for k in saved)
    state = ckpt.read_training_state(kept[-1])
    assert state["step"] == 4 and state["samples"] == 8 and state["world_size"] == 1
    assert {p.name for p in (kept[-1] / "rng").iterdir()} == {"rank-0.json", "rank-0.safetensors"}
    assert not list(tmp_path.glob(".tmp-*"))


def test_full_disk_mid_save_keeps_previous_checkpoint(tmp_path, shapes_jsonl, monkeypatch):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, **{"checkpoint.every": 2}))
    t.train(until=2)
    good = trainable(t)
    real = ckpt._save_state

    def disk_full(obj, folder, name):
        if name == "optimizer":  # rng/data already written: a save failing half way
            raise OSError(errno.ENOSPC, "No space left on device")
        real(obj, folder, name)

    monkeypatch.setattr(ckpt, "_save_state", disk_full)
    with pytest.raises(CheckpointError, match="No space left.*checkpoint-2 is intact"):
        t.train()
    monkeypatch.undo()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["checkpoint-2"]
    assert not list(tmp_path.glob(".tmp-*"))
    back = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, resume="auto", **{"checkpoint.every": 2}))
    assert back.step == 2 and all(torch.equal(v, trainable(back)[k]) for k, v in good.items())


def test_resume_refuses_other_config_and_unasked_overwrite(tmp_path, shapes_jsonl):
    Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=2)).train()
    with pytest.raises(ConfigError, match=r"different training config \(differs in: optim.lr\)"):
        Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, resume="auto", **{"optim.lr": 5e-4}))
    with pytest.raises(ConfigError, match="already holds checkpoint-2"):
        Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4))
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        Trainer(tiny_config(tmp_path / "other", shapes_jsonl, resume=str(tmp_path)))


def test_bad_data_is_a_clear_error(tmp_path, shapes_jsonl):
    with pytest.raises(DataError, match="not found"):
        Trainer(tiny_config(tmp_path / "a", tmp_path / "missing.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        Trainer(tiny_config(tmp_path / "b", empty))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "nope.png", "caption": "x"}\n')
    t = Trainer(tiny_config(tmp_path / "c", bad))
    with pytest.raises(DataError, match="no usable samples"):
        t.train()


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path, shapes_jsonl):
    grads = []
    for gc in (False, True):
        t = Trainer(tiny_config(tmp_path / str(gc), shapes_jsonl, gradient_checkpointing=gc, **{"data.cfg_dropout": "null"}))
        t.micro_step(next(t.batches), 0)
        grads.append({n: p.grad.clone() for n, p in t.model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-6), k


def test_sample_grid_and_tensorboard(tmp_path, shapes_jsonl):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=2, **{
        "log.tensorboard": True, "eval.every": 2, "eval.steps": 2, "eval.prompts": "[a red circle]",
        "eval.edits": "[{prompt: make it blue, image: %s}]" % (shapes_jsonl.parent / "images/train/edit_000000_source0.png")}))
    result = t.train()
    assert {"loss", "lr", "grad_norm", "samples_per_s", "peak_memory_gb"} <= set(result)
    from PIL import Image

    grid = Image.open(tmp_path / "samples" / "step-0000002.png")
    assert grid.size == (64, 64)  # 2 requests x [input | output], 32 px
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
