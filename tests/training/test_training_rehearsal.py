"""Language-model rehearsal: understanding-format batches with loss on the answers only, a position
that resumes exactly, and a loss that trains the MLLM layers it reaches."""

from __future__ import annotations

import json

import pytest
import torch

from uniimage.errors import ConfigError
from uniimage.training.config import ModelSource
from uniimage.training.model_source import load_model
from uniimage.training.rehearsal import IGNORE, RehearsalData, lm_inputs, lm_loss, next_lm_inputs


@pytest.fixture(scope="module")
def tiny():
    model, processor, _ = load_model(ModelSource(preset="tiny"))
    return model, processor


def test_labels_cover_the_answer_and_im_end_only(tiny, vqa_jsonl):
    _, processor = tiny
    data = RehearsalData(vqa_jsonl, batch_size=3)
    rows = data.next_rows()
    batch = lm_inputs(processor, [data.image(r) for r in rows], [r["question"] for r in rows], [r["answer"] for r in rows])
    tok = processor.tokenizer
    for i, row in enumerate(rows):
        labelled = batch["labels"][i][batch["labels"][i] != IGNORE].tolist()
        assert tok.decode(labelled) == row["answer"] + "<|im_end|>"
        # the prompt is the understanding format pipe.understand asks with, unpadded, then the answer
        n = int(batch["attention_mask"][i].sum())
        assert tok.decode(batch["input_ids"][i][:n]).endswith("assistant\n" + row["answer"] + "<|im_end|>")
    assert batch["image_grid_thw"].shape == (3, 3)


def test_position_resumes_exactly_and_epochs_reshuffle(vqa_jsonl):
    straight = RehearsalData(vqa_jsonl, batch_size=5, seed=1)
    seen = [[r["question"] + r["image"] for r in straight.next_rows()] for _ in range(5)]
    resumed = RehearsalData(vqa_jsonl, batch_size=5, seed=1)
    resumed.next_rows(), resumed.next_rows()
    state = json.loads(json.dumps(resumed.state_dict()))  # plain data
    fresh = RehearsalData(vqa_jsonl, batch_size=5, seed=1)
    fresh.load_state_dict(state)
    assert [[r["question"] + r["image"] for r in fresh.next_rows()] for _ in range(3)] == seen[2:]
    assert straight.epoch == 2  # 12 rows, batches of 5: two full batches an epoch


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RehearsalData(tmp_path / "none.jsonl", 2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"image": "x.png", "question": "q"}) + "\n")
    with pytest.raises(ConfigError, match="lacks \\['answer'\\]"):
        RehearsalData(bad, 1)


def test_rehearsal_trains_the_mllm_layers(tiny, vqa_jsonl):
    model, processor = tiny
    torch.manual_seed(0)
    data = RehearsalData(vqa_jsonl, batch_size=4)
    batch = next_lm_inputs(data, processor)
    layers = model.text_model.layers
    params = list(layers.parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=3e-3)
    first = lm_loss(model.mllm, batch)
    assert torch.isfinite(first)
    for _ in range(8):
        optimizer.zero_grad()
        loss = lm_loss(model.mllm, batch)
        loss.backward()
        optimizer.step()
    assert lm_loss(model.mllm, batch).item() < first.item() - 0.1


def test_trainer_rehearses_and_resumes_exactly(tmp_path, shapes_jsonl, vqa_jsonl):
    from training_helpers import assert_same_trainable, resumed_run, tiny_config, trainable

    from uniimage.training.trainer import Trainer

    fields = {"rehearsal.path": str(vqa_jsonl), "rehearsal.batch_size": 2, "rehearsal.weight": 0.5,
              "freeze.mllm_last_layers": 1, "max_steps": 4}
    straight = Trainer(tiny_config(tmp_path / "a", shapes_jsonl, **fields))
    before = trainable(straight)
    result = straight.train()
    assert "lm_loss" in result and result["lm_loss"] > 0
    layer = next(n for n in before if ".layers." in n and "query" not in n)
    assert not torch.equal(before[layer], trainable(straight)[layer])  # the MLLM layer learnt

    resumed = resumed_run(tmp_path / "b", shapes_jsonl, 2, **fields)
    assert resumed.rehearsal.state_dict() == {"epoch": 0, "index": 4}
    resumed.train()
    assert_same_trainable(trainable(straight), trainable(resumed), atol=1e-6)


def test_rehearsal_loss_uses_the_3d_positions_generation_uses(tiny, vqa_jsonl):
    """Image tokens take Qwen2.5-VL's (t, h, w) rotary positions, as in every UniImage forward: the loss equals
    the one with get_rope_index's explicit positions, and differs from the 1D fallback."""
    model, processor = tiny
    data = RehearsalData(vqa_jsonl, batch_size=3)
    batch = next_lm_inputs(data, processor)
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert torch.equal(batch["mm_token_type_ids"], (batch["input_ids"] == image_pad).int())
    assert batch["mm_token_type_ids"].sum() > 0
    qwen = model.mllm.model
    positions, _ = qwen.get_rope_index(batch["input_ids"], batch["mm_token_type_ids"], image_grid_thw=batch["image_grid_thw"],
                                       attention_mask=batch["attention_mask"])
    assert not torch.equal(positions[1], positions[2])  # rows and columns differ on the image tokens
    with torch.no_grad():
        ours = lm_loss(model.mllm, batch)
        explicit = model.mllm(**{k: v for k, v in batch.items() if k != "mm_token_type_ids"}, position_ids=positions).loss
        flat = model.mllm(**{k: v for k, v in batch.items() if k != "mm_token_type_ids"}).loss
    assert torch.allclose(ours, explicit, atol=1e-6)
    assert not torch.allclose(ours, flat, atol=1e-6)
