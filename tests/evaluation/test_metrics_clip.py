"""CLIP score with a tiny random CLIP saved as a local folder (model, tokenizer, image processor)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from uniimage.evaluation.metrics.clip_score import compute_clip_score


def _byte_vocab() -> dict[str, int]:
    """CLIP's byte-level alphabet (each byte as a printable char, with and without the word end)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = [], 0
    for b in range(256):
        chars.append(chr(b) if b in printable else chr(256 + extra))
        extra += b not in printable
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = tmp_path_factory.mktemp("tiny-clip")
    vocab = _byte_vocab()
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=vocab["<|endoftext|>"],
                         bos_token_id=vocab["<|startoftext|>"], pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77).save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _geneval_like(root, n_prompts: int):
    for k in range(n_prompts):
        samples = root / f"{k:05d}" / "samples"
        samples.mkdir(parents=True)
        for m in range(2):
            Image.new("RGB", (48, 48), (40 * k, 80 * m, 120)).save(samples / f"{m:04d}.png")
        Image.new("RGB", (96, 96)).save(root / f"{k:05d}" / "grid.png")  # must not be scored


def test_clip_score_pairs_images_with_prompts(tmp_path, tiny_clip):
    from uniimage.evaluation.metrics.clip_models import load_clip

    _geneval_like(tmp_path / "imgs", 2)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red cube\na blue ball\na prompt without images\n")
    result = compute_clip_score(tmp_path / "imgs", prompts, load_clip(str(tiny_clip)))
    assert result.images == 4 and result.prompts_scored == 2 and result.prompts_without_images == 1
    assert 0.0 <= result.clip_score <= 100.0
    assert sorted(result.per_prompt) == ["00000", "00001"]
    again = compute_clip_score(tmp_path / "imgs", prompts, load_clip(str(tiny_clip)))
    assert again.clip_score == pytest.approx(result.clip_score, abs=1e-5)


def test_clip_score_of_an_injected_encoder(tmp_path):
    """Any object with encode_images / encode_texts works: identical embeddings score 100."""

    class Same:
        name = "same"

        def encode_images(self, images):
            return torch.ones(len(images), 4)

        def encode_texts(self, texts):
            return torch.ones(len(texts), 4)

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "k1.png")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "k1", "prompt": "x"}\n')
    result = compute_clip_score(tmp_path / "imgs", prompts, Same())
    assert result.clip_score == pytest.approx(100.0) and result.images == 1


def test_cli_clip_score(cli, capsys, tmp_path, tiny_clip):
    _geneval_like(tmp_path / "imgs", 2)
    assert cli(["metrics", "clip-score", str(tmp_path / "imgs"), "geneval", "--clip-model", str(tiny_clip),
                "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 4 and result["prompts_scored"] == 2 and result["prompts_without_images"] == 551


@pytest.mark.parametrize("case, message", [
    ("missing-dir", "image folder not found"),
    ("no-match", "no image under"),
    ("no-weights", "cannot be downloaded here"),
])
def test_cli_clip_score_errors(cli, capsys, tmp_path, case, message):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (8, 8)).save(imgs / ("00000.png" if case != "no-match" else "other.png"))
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    target = tmp_path / "nope" if case == "missing-dir" else imgs
    assert cli(["metrics", "clip-score", str(target), str(prompts), "--clip-model", str(tmp_path / "no-clip")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
