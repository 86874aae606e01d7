"""bf16 on CPU: autocast alone, and autocast with the frozen MLLM / VAE stored in bf16. The loss falls,
trainable weights and AdamW state stay float32, and frozen weights (the vocabulary rows above all) stay
bit-identical to what they were at the start (in their storage dtype)."""

import pytest
import torch
from training_helpers import tiny_config

from uniimage.data import collate
from uniimage.training import Trainer


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    # accelerate keeps one process-wide state: a bf16 Accelerator would refuse the float32 ones of later tests.
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.mark.parametrize("frozen_dtype", ["float32", "bfloat16"])
def test_bf16_trains_keeps_fp32_master_state_and_frozen_rows(tmp_path, shapes_jsonl, frozen_dtype):
    t = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=8, batch_size=4, precision="bf16", frozen_dtype=frozen_dtype,
                            **{"checkpoint.every": 100, "data.cfg_dropout": "null", "optim.lr": 2e-2, "optim.min_lr": 2e-3, "optim.warmup_steps": 1}))
    assert t.acc.mixed_precision == "bf16"
    vocab = t.model.query_embedding.weight
    assert vocab.dtype == getattr(torch, frozen_dtype) and t.model.vae.encoder.conv_in.weight.dtype == vocab.dtype
    frozen = {n: p.detach().clone() for n, p in t.model.named_parameters() if not p.requires_grad}
    assert len(frozen) > 20
    fixed = collate([s for _, s in zip(range(8), iter(t.batches.stream))])
    t.batches.stream.set_epoch(0)
    before = t.fixed_loss(fixed)
    t.train()
    after = t.fixed_loss(fixed)
    assert after < 0.95 * before, (before, after)  # measured 1.404 -> 1.278 (fixed noise and timesteps)
    trained = [p for p in t.model.parameters() if p.requires_grad]
    assert trained and all(p.dtype == torch.float32 for p in trained)
    states = [s for s in t.optimizer.state_dict()["state"].values()]
    assert len(states) == len(trained)
    assert all(s[k].dtype == torch.float32 for s in states for k in ("exp_avg", "exp_avg_sq"))
    assert all(s["exp_avg"].abs().sum() > 0 for s in states)  # every trainable tensor got gradients
    vocab_name = next(n for n, p in t.model.named_parameters() if p is vocab)
    assert torch.equal(frozen[vocab_name], vocab.detach())  # the vocabulary rows, bit for bit
    now = dict(t.model.named_parameters())
    assert all(torch.equal(v, now[n].detach()) for n, v in frozen.items())
