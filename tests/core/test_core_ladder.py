"""The ladder mapping and the MLLM's early exit, counted in decoder-layer calls."""

import pytest
import torch

from uniimage.errors import ConfigError
from uniimage.models.ladder import ladder_indices


def test_published_ladder_is_the_k_states_below_the_last():
    assert ladder_indices("ladder", 36, 20) == list(range(16, 36))
    assert ladder_indices("ladder", 6, 4) == [2, 3, 4, 5]


def test_final_and_explicit_mappings():
    assert ladder_indices("final", 6, 4) == [6, 6, 6, 6]
    assert ladder_indices([0, 2, 4, 6], 6, 4) == [0, 2, 4, 6]


@pytest.mark.parametrize("spec,match", [([1, 2], "lists 2"), ([1, 2, 3, 9], "out of range"), ("middle", "must be")])
def test_bad_mappings_are_named(spec, match):
    with pytest.raises(ConfigError, match=match):
        ladder_indices(spec, 6, 4)


def test_ladder_needs_enough_layers():
    with pytest.raises(ConfigError, match="at least as many"):
        ladder_indices("ladder", 3, 4)


def count_calls(model):
    calls = {"layers": 0, "norm": 0, "head": 0}
    hooks = [layer.register_forward_hook(lambda *a: calls.__setitem__("layers", calls["layers"] + 1)) for layer in model.text_model.layers]
    hooks.append(model.text_model.norm.register_forward_hook(lambda *a: calls.__setitem__("norm", calls["norm"] + 1)))
    hooks.append(model.mllm.lm_head.register_forward_hook(lambda *a: calls.__setitem__("head", calls["head"] + 1)))
    return calls, hooks


@pytest.mark.parametrize("ladder,layers,norm", [("ladder", 5, 0), ("final", 6, 1), ([0, 0, 1, 1], 1, 0), ([0, 1, 2, 3], 3, 0)])
def test_mllm_runs_only_as_deep_as_the_mapping_needs(tiny_pipe, ladder, layers, norm):
    from uniimage.models.ladder import ladder_indices

    model = tiny_pipe.model
    saved = model.ladder
    model.ladder = ladder_indices(ladder, model.num_mllm_layers, model.transformer.num_blocks)
    calls, hooks = count_calls(model)
    try:
        cond, mask = tiny_pipe.encode_prompt(["a red circle", ""], [[], []])
    finally:
        model.ladder = saved
        for h in hooks:
            h.remove()
    assert calls == {"layers": layers, "norm": norm, "head": 0}
    assert cond.shape == (model.transformer.num_blocks, 2, model.config.num_metaqueries, model.transformer.config.caption_channels)
    assert mask.shape == (2, model.config.num_metaqueries)


def test_ladder_states_equal_the_full_forward_hidden_states(tiny_pipe):
    """The early-exit loop returns exactly transformers' output_hidden_states at the mapped indices."""
    model = tiny_pipe.model
    inputs = tiny_pipe.processor.generation_inputs(["two green triangles", ""], [[], []])
    with torch.no_grad():
        states = model.mllm_hidden_states(inputs.input_ids, inputs.attention_mask)
        ids = inputs.input_ids
        types = (ids == model.mllm.config.image_token_id).int()
        pos, _ = model.mllm.model.get_rope_index(ids, types, attention_mask=inputs.attention_mask)
        full = model.mllm.model(input_ids=ids, attention_mask=inputs.attention_mask, position_ids=pos,
                                output_hidden_states=True, use_cache=False).hidden_states
    assert len(full) == model.num_mllm_layers + 1
    for i in model.ladder:
        torch.testing.assert_close(states[i], full[i], rtol=0, atol=0)


def test_each_block_sees_its_own_condition(tiny_pipe):
    """Changing only block k's condition changes the output; the DiT gets K distinct contexts."""
    model = tiny_pipe.model
    torch.manual_seed(0)
    K, N, C = model.transformer.num_blocks, model.config.num_metaqueries, model.transformer.config.caption_channels
    latents = torch.randn(1, model.config.in_channels, 8, 8)
    cond = torch.randn(K, 1, N, C)
    mask = torch.ones(1, N, dtype=torch.long)
    t = torch.tensor([500])
    with torch.no_grad():
        base = model(latents, t, cond, mask)
        for k in range(K):
            changed = cond.clone()
            changed[k] += 1.0
            assert not torch.allclose(model(latents, t, changed, mask), base)
        # Identical conditions in every block equal stock SANA (same weights) fed that one caption.
        from diffusers import SanaTransformer2DModel

        stock = SanaTransformer2DModel.from_config(model.transformer.config)
        stock.load_state_dict(model.transformer.state_dict())
        same = cond[:1].expand(K, -1, -1, -1)
        expected = stock(latents, same[0], t, encoder_attention_mask=mask, return_dict=False)[0]
        torch.testing.assert_close(model(latents, t, same, mask), expected)
