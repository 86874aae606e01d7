"""A fresh model from pretrained bases (what training starts from), samplers, hub errors offline."""

import shutil

import pytest
import torch
from torch import nn

from uniimage import UniImagePipeline
from uniimage.checkpoint.pretrained import from_components
from uniimage.cli.main import main
from uniimage.models import UniImageModel
from uniimage.pipelines.schedulers import load_sampler
from uniimage.presets import build_preset


@pytest.fixture(scope="module")
def base_folders(tmp_path_factory):
    """A plain Qwen2.5-VL folder and a SANA diffusers folder, as transformers / diffusers save them."""
    root = tmp_path_factory.mktemp("bases")
    model, _, comp = build_preset("tiny", seed=3)
    shutil.copytree(comp.mllm_dir, root / "qwen")
    plain = nn.Embedding(model.vocab_size, model.query_embedding.embedding_dim)
    plain.weight = model.query_embedding.weight
    model.mllm.set_input_embeddings(plain)
    model.mllm.save_pretrained(root / "qwen")
    model.transformer.save_pretrained(root / "sana" / "transformer")
    model.vae.save_pretrained(root / "sana" / "vae")
    shutil.copytree(comp.scheduler_dir, root / "sana" / "scheduler")
    return root, model


def test_from_components_keeps_base_weights_and_adds_new_parts(base_folders):
    root, base = base_folders
    model, processor, _ = from_components(str(root / "qwen"), str(root / "sana"), num_metaqueries=8)
    assert isinstance(model, UniImageModel)
    assert torch.equal(model.transformer.proj_out.weight, base.transformer.proj_out.weight)
    assert torch.equal(model.vae.decoder.conv_out.weight, base.vae.decoder.conv_out.weight)
    assert torch.equal(model.query_embedding.weight, base.query_embedding.weight)
    assert model.queries.shape == (8, model.query_embedding.embedding_dim)
    assert torch.allclose(model.connector[3].weight, torch.full_like(model.connector[3].weight, 5.5 ** 0.5))
    # latent geometry is read from the bases, not assumed
    assert model.config.in_channels == base.vae.config.latent_channels
    assert model.config.input_size == base.transformer.config.sample_size
    assert processor.tokenizer.convert_tokens_to_ids("<|img0|>") == model.vocab_size
    cond, mask = model.encode_condition(*processor.generation_inputs(["a red circle"], [[]]).__dict__.values())
    assert cond.shape[:3] == (model.transformer.num_blocks, 1, 8)


def test_from_components_model_saves_and_generates(base_folders, tmp_path):
    from uniimage.checkpoint.pretrained import save_pretrained

    root, _ = base_folders
    model, _, components = from_components(str(root / "qwen"), str(root / "sana"))
    save_pretrained(model, components, tmp_path / "fresh")
    pipe = UniImagePipeline.from_pretrained(tmp_path / "fresh")
    assert len(pipe("a red circle", num_inference_steps=1, progress=False).images) == 1


def test_euler_sampler_option(tiny_pipe):
    euler = load_sampler(tiny_pipe.sources.scheduler_dir, "euler")
    euler.set_timesteps(4)
    torch.testing.assert_close(euler.sigmas[:-1], _shifted(torch.linspace(1, 0.25, 4), 3.0), atol=1e-6, rtol=0)
    dpm = tiny_pipe.scheduler
    tiny_pipe.scheduler = euler
    try:
        out = tiny_pipe("a red circle", num_inference_steps=4, output_type="np", progress=False).images
    finally:
        tiny_pipe.scheduler = dpm
    assert out.shape[0] == 1


def _shifted(sigmas, shift):
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def test_download_offline_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download", "TencentBAC/TBAC-UniImage-3B", "--to", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "cannot get 'TencentBAC/TBAC-UniImage-3B' from the hub" in err and len(err.strip().splitlines()) == 1


def test_understanding_never_produces_query_tokens(tiny_pipe):
    from PIL import Image

    ids = tiny_pipe.understand_ids(Image.new("RGB", (56, 56), (200, 0, 0)), "what is it?", max_new_tokens=8)
    assert int(ids.max()) < tiny_pipe.model.vocab_size
