"""`condition_cache`: a frozen condition computed once per prompt trains the DiT as computing it every step,
rows are reused (those with input images when caption and pixels match), and a condition that trains is refused."""

from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from test_training_ddp import STEPS, worker_config
from training_helpers import TorchrunWorkers, tiny_config, trainable

from uniimage.errors import ConfigError
from uniimage.training import Trainer
from uniimage.training.condition_cache import ConditionCache

FROZEN = {"freeze.train_queries": "false", "freeze.train_connector": "false", "max_steps": 10, "batch_size": 4,
          "data.datasets.0.shuffle": "false"}


def test_cached_conditions_train_the_dit_as_fresh_ones(tmp_path, shapes_jsonl):
    fresh = Trainer(tiny_config(tmp_path / "fresh", shapes_jsonl, **FROZEN))
    cached = Trainer(tiny_config(tmp_path / "cached", shapes_jsonl, condition_cache=100, **FROZEN))
    a, b = fresh.train()["losses"], cached.train()["losses"]
    assert len(a) == 10 and torch.allclose(torch.tensor(a), torch.tensor(b), rtol=1e-5, atol=1e-6), (a, b)
    wa, wb = trainable(fresh), trainable(cached)
    assert wa.keys() == wb.keys() and all(name.startswith("transformer.") for name in wa)
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)
    cache = cached.condition_cache
    # 24 samples (16 text-to-image, 8 edits with a source image) in file order, 40 rows: the second epoch's
    # rows are hits (but for CFG-dropped captions or images), edit rows among them (keyed by their pixels).
    edit_keys = [k for k in cache.rows.keys() if k[1]]
    assert cache.hits + cache.misses == 40 and cache.hits >= 12 and 0 < len(edit_keys) <= 8 < len(cache.rows) <= 25
    assert fresh.condition_cache is None


def test_two_processes_with_the_cache_equal_one_without(tmp_path, shapes_jsonl):
    """Each rank keeps its own cache; the rows it computes outside the DDP module change no gradient."""
    frozen = ["freeze.train_queries=false", "freeze.train_connector=false"]
    worker = Path(__file__).with_name("training_ddp_worker.py")
    with TorchrunWorkers(worker, tmp_path / "two", 2, STEPS, shapes_jsonl, ",".join(["condition_cache=50", *frozen])) as w:
        one = Trainer(worker_config(tmp_path / "one", 4, shapes_jsonl, frozen))
        one.train()
        log = w.wait(timeout=300)
    assert w.returncode == 0, log[-3000:]
    assert "MULTI_CPU world 2" in log and "condition_cache rows computed" in log
    two, ours = load_file(str(tmp_path / "two" / "final.safetensors")), trainable(one)
    assert two.keys() == ours.keys() and all(k.startswith("transformer.") for k in ours)
    assert max((two[k] - ours[k]).abs().max().item() for k in ours) < 1e-5


def test_a_condition_that_trains_is_refused(tmp_path, shapes_jsonl):
    with pytest.raises(ConfigError, match=r"condition_cache needs a frozen condition .*query"):
        Trainer(tiny_config(tmp_path / "q", shapes_jsonl, condition_cache=10))  # published: the queries learn
    with pytest.raises(ConfigError, match="condition_cache must be >= 0"):
        tiny_config(tmp_path / "n", shapes_jsonl, condition_cache=-1)


def test_the_cache_reuses_rows_by_caption_and_pixels_and_keeps_the_newest():
    calls = []
    red, red_again, black = (Image.new("RGB", (8, 8), c) for c in ("red", "red", "black"))

    def encode(captions, images):
        calls.append(list(captions))
        cond = torch.stack([torch.full((2, 3, 4), float(len(c))) for c in captions], dim=1)  # [K, B, N, C]
        return cond, torch.ones(len(captions), 3, dtype=torch.long)

    cache = ConditionCache(max_items=3)
    cond, mask = cache(["a", "bb", "a"], [[], [], []], encode)
    assert calls == [["a", "bb", "a"]] and cond.shape == (2, 3, 3, 4) and mask.shape == (3, 3)
    assert cond[0, :, 0, 0].tolist() == [1.0, 2.0, 1.0]
    cond, _ = cache(["bb", "ccc", "edit"], [[], [], [red]], encode)  # "edit" has an input image
    assert calls[-1] == ["ccc", "edit"] and cond[0, :, 0, 0].tolist() == [2.0, 3.0, 4.0]
    assert [k[0] for k in cache.rows.keys()] == ["bb", "ccc", "edit"]  # "a" was the least recently used
    cache(["edit", "edit", "a"], [[red_again], [black], []], encode)  # equal pixels hit; a blacked image does not
    assert calls[-1] == ["edit", "a"] and (cache.hits, cache.misses) == (2, 7)
