"""What learns: the published default, the MLLM's last ladder layers, a frozen DiT, LoRA with merge."""

import pytest
import torch

from uniimage.errors import ConfigError
from uniimage.presets import build_preset
from uniimage.training.config import FreezeConfig, LoraSettings
from uniimage.training.freeze import apply_freeze, merge_lora, used_mllm_layers


@pytest.fixture(scope="module")
def tiny():
    return build_preset("tiny", seed=0)


def fresh(tiny):
    import copy

    model = copy.deepcopy(tiny[0])
    model.tie_head()
    return model


def test_published_default(tiny):
    model = fresh(tiny)
    names = apply_freeze(model, FreezeConfig())
    assert "mllm.model.language_model.embed_tokens.queries" in names
    assert not any(n.startswith(("mllm.", "vae.")) and not n.endswith(".queries") for n in names)
    assert any(n.startswith("transformer.") for n in names) and any(n.startswith("connector.") for n in names)
    assert not model.query_embedding.weight.requires_grad


def test_mllm_last_layers_are_the_deepest_the_ladder_runs(tiny):
    model = fresh(tiny)
    used = used_mllm_layers(model)  # tiny: 6 layers, ladder [2..5] -> layers 0..4 run
    assert used == 5
    names = apply_freeze(model, FreezeConfig(mllm_last_layers=2, train_dit=False))
    layers = {int(n.split(".")[4]) for n in names if ".layers." in n}
    assert layers == {3, 4}
    assert not any(n.startswith("transformer.") for n in names)
    with pytest.raises(ConfigError, match="mllm_last_layers"):
        apply_freeze(fresh(tiny), FreezeConfig(mllm_last_layers=6))


def test_nothing_to_train_is_an_error(tiny):
    with pytest.raises(ConfigError, match="nothing to train"):
        apply_freeze(fresh(tiny), FreezeConfig(train_queries=False, train_connector=False, train_dit=False))


def test_lora_on_dit_and_mllm_merges_to_the_same_function(tiny):
    model = fresh(tiny)
    names = apply_freeze(model, FreezeConfig(lora=LoraSettings(targets=["dit", "mllm"], rank=4, alpha=8)))
    lora = [n for n in names if "lora_" in n]
    assert any(n.startswith("transformer.") for n in lora) and any(".language_model.layers." in n for n in lora)
    assert not any(".layers.5." in n for n in lora)  # the layer past the ladder gets no adapter
    assert set(names) - set(lora) == {"mllm.model.language_model.embed_tokens.queries", *(n for n in names if n.startswith("connector."))}
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)  # B starts at zero: make the adapters do something
    ids = torch.tensor([[5, 6, 7, 1009] + list(range(1014, 1030)) + [1010]])
    mask = torch.ones_like(ids)
    latents, t = torch.randn(1, 8, 8, 8), torch.tensor([500.0])

    def run():
        with torch.no_grad():
            cond, m = model.encode_condition(ids, mask)
            return model(latents, t, cond, m)

    before = run()
    assert merge_lora(model) > 0
    assert not any("lora_" in n for n, _ in model.named_parameters())
    assert torch.allclose(run(), before, atol=1e-5)
