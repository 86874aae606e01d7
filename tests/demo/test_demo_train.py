"""Stage-0 trainers at a tiny size: a few steps write loadable folders, `from_components` builds a
UniImage model from them, and the losses fall on a tiny batch."""

import pytest
import torch
from diffusers import AutoencoderDC
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from uniimage.demo import train_vae as vae_trainer
from uniimage.demo import train_vlm as vlm_trainer
from uniimage.demo.check import check_bases
from uniimage.demo.sana_init import write_sana
from uniimage.demo.sizes import TEST
from uniimage.demo.vae_build import build_vae
from uniimage.demo.vae_data import load_images
from uniimage.demo.vlm_data import read_examples


@pytest.fixture(scope="module")
def bases(demo_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("bases")
    vlm = vlm_trainer.train_vlm(demo_data, out / "qwen", TEST, steps=2, batch=4, eval_n=0, tokenizer_texts=30)
    vae = vae_trainer.train_vae(demo_data, out / "sana" / "vae", TEST, steps=2, batch_size=4, eval_n=0)
    write_sana(out / "sana", TEST, out / "sana" / "vae")
    return out, vlm, vae


def test_vlm_folder_loads(bases):
    out, report, _ = bases
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(out / "qwen")
    tok = AutoTokenizer.from_pretrained(out / "qwen")
    assert sum(p.numel() for p in model.parameters()) == report["params"]
    assert model.config.text_config.vocab_size == len(tok) and tok.chat_template
    assert (out / "qwen" / "preprocessor_config.json").is_file()
    again, tok_again, _ = vlm_trainer.make_vlm(TEST, seed=1, init=out / "qwen")  # the phase-2 start
    assert len(tok_again) == len(tok)
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), model.parameters()))


def test_vae_folder_loads(bases):
    out, _, report = bases
    vae = AutoencoderDC.from_pretrained(out / "sana" / "vae")
    assert vae.config.latent_channels == TEST.latent_channels
    assert vae.config.scaling_factor == report["scaling_factor"] > 0


def test_from_components_builds_uniimage(bases):
    out, _, _ = bases
    summary = check_bases(out / "qwen", out / "sana", num_metaqueries=4)
    assert summary["transformer_params"] > 0 and summary["connector_params"] > 0
    assert summary["qwen_mb"] > 0 and summary["sana_mb"] > 0


def _falls(losses):
    return sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_vlm_loss_falls_on_a_tiny_batch(demo_data):
    model, tok, proc = vlm_trainer.make_vlm(TEST, seed=0, tokenizer_texts=30)
    examples = read_examples(demo_data)[:4]
    losses = vlm_trainer.train_steps(model, tok, proc, examples, steps=20, batch=4, lr=3e-3, seed=0, warmup=2, log_every=0)
    assert _falls(losses), losses


def test_vae_loss_falls_on_a_tiny_batch(demo_data):
    vae = build_vae(TEST)
    images = load_images(demo_data, TEST.vae_image, limit=4)
    losses = vae_trainer.train_steps(vae, images, steps=20, batch_size=4, lr=3e-3, seed=0, log_every=0)
    assert _falls(losses), losses


def test_training_is_deterministic(demo_data):
    images = load_images(demo_data, TEST.vae_image, limit=4)
    runs = [vae_trainer.train_steps(build_vae(TEST), images, 3, 4, 1e-3, 0, log_every=0) for _ in range(2)]
    assert runs[0] == runs[1]
