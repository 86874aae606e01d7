"""The published sizes, checked on the meta device (no memory): parameter counts and key layout."""

import re

import pytest
import torch

from golden import first_fixture
from uniimage.checkpoint.save import published_state
from uniimage.models.summary import parameter_counts
from uniimage.presets import build_preset


@pytest.fixture(scope="module")
def published():
    model, _, _ = build_preset("tbac-uniimage-3b", empty=True)
    return model


def test_every_parameter_is_on_meta(published):
    assert all(p.device.type == "meta" for p in published.parameters())


def test_parameter_counts_match_the_published_model(published):
    counts = parameter_counts(published)
    # Qwen2.5-VL-3B-Instruct's safetensors total (LM head tied, so counted once).
    assert counts["mllm"] == 3_754_622_976
    assert counts["mllm.vision"] == 668_684_288
    # SANA 1600M 512px transformer and DC-AE f32c32-sana-1.0 (encoder + decoder).
    assert counts["transformer"] == 1_604_462_752
    assert counts["vae"] == 312_250_275
    # New parts: 64 queries x 2048; connector 2048->2304, 2304->2304, RMSNorm(2304).
    assert counts["queries"] == 64 * 2048
    assert counts["connector"] == 2048 * 2304 + 2304 + 2304 * 2304 + 2304 + 2304
    assert 5.5e9 < counts["total"] < 6.0e9  # "about 6B parameters in all"


def test_published_key_shapes(published):
    state = {k: tuple(v.shape) for k, v in published_state(published).items()}
    assert state["model.mllm_backbone.model.embed_tokens.weight"] == (151936 + 64 + 2, 2048)
    assert state["model.mllm_backbone.model.layers.35.mlp.gate_proj.weight"] == (11008, 2048)
    assert state["model.mllm_backbone.model.layers.0.self_attn.k_proj.weight"] == (256, 2048)
    assert state["model.mllm_backbone.visual.patch_embed.proj.weight"] == (1280, 3, 2, 14, 14)
    assert state["model.mllm_backbone.visual.blocks.31.mlp.up_proj.weight"] == (3420, 1280)
    assert state["model.mllm_backbone.visual.merger.mlp.2.weight"] == (2048, 5120)
    assert state["model.transformer.transformer_blocks.19.attn2.to_k.weight"] == (2240, 2240)
    assert state["model.transformer.caption_projection.linear_1.weight"] == (2240, 2304)
    assert state["model.connector.0.weight"] == (2304, 2048)
    assert state["model.connector.3.weight"] == (2304,)
    assert "model.mllm_backbone.model.layers.36.input_layernorm.weight" not in state
    assert not any("lm_head" in k for k in state)
    assert sum(k.startswith("model.mllm_backbone.model.layers.") for k in state) == 36 * 12


def pattern(key: str) -> str:
    return re.sub(r"\.\d+\.", ".N.", re.sub(r"\.\d+\.", ".N.", key))


def test_published_key_patterns_match_the_fixture_layout(published):
    """The fixture is the published checkpoint's exact format: the same key names up to block indices."""
    listed = {line.split("\t")[0] for line in (first_fixture() / "keys.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    ours = set(published_state(published))
    mllm_dit = lambda keys: {pattern(k) for k in keys if not k.startswith("vae.")}
    assert mllm_dit(ours) == mllm_dit(listed)
    # The VAE has more stages in the real model; its top-level names match.
    assert {k.split(".")[1] for k in ours if k.startswith("vae.")} == {k.split(".")[1] for k in listed if k.startswith("vae.")}


def test_tiny_preset_builds_and_draws(tiny_pipe):
    out = tiny_pipe("a blue star", num_inference_steps=2, output_type="pt", progress=False,
                    generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 3, tiny_pipe.default_height, tiny_pipe.default_width)
    assert 0 <= out.min() and out.max() <= 1


def test_3b_preset_processor_uses_the_published_token_ids():
    """Random-weight timing of the published sizes needs a processor whose ids match Qwen's config."""
    from uniimage.checkpoint.components import load_components
    from uniimage.checkpoint.pretrained import build_processor, read_config
    from uniimage.presets import preset_folder

    folder = preset_folder("tbac-uniimage-3b")
    config = read_config(folder)
    components = load_components(config, [folder])
    processor = build_processor(config, components)
    mllm = components.mllm_config
    tok = processor.tokenizer
    assert tok.convert_tokens_to_ids(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]) == [
        mllm.vision_start_token_id, mllm.vision_end_token_id, mllm.image_token_id]
    assert tok.convert_tokens_to_ids("<|img0|>") == mllm.text_config.vocab_size
    from PIL import Image

    inputs = processor.generation_inputs(["make it red"], [[Image.new("RGB", (512, 512))]])
    ids = inputs.input_ids[0].tolist()
    # 512 x 512 at the published pixel budget -> 32 x 32 patches -> 256 merged image tokens, then the 64 queries.
    assert ids.count(mllm.image_token_id) == 256
    queries = list(range(mllm.text_config.vocab_size, mllm.text_config.vocab_size + 64))
    assert ids[-67:-1] == [mllm.vision_start_token_id] + queries + [mllm.vision_end_token_id]  # then <|im_end|>
