"""Stage-0 trainers at a tiny size: a few steps write loadable folders, `from_components` builds a
UniImage model from them, and the losses fall on a tiny batch."""

import json
import pytest
import torch
from diffusers import AutoencoderDC, SanaTransformer2DModel
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from uniimage.demo import train_vae as vae_trainer
from uniimage.demo import train_vlm as vlm_trainer
from uniimage.demo.check import check_bases
from uniimage.demo.sana_init import write_sana
from uniimage.demo.sizes import TEST
from uniimage.demo.vae_build import build_vae
from uniimage.demo.vae_data import load_images
from uniimage.demo.vlm_data import read_examples


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


def test_bases_come_back_out_of_a_saved_model_unchanged(bases, tmp_path):
    from uniimage.checkpoint.pretrained import from_components, save_pretrained
    from uniimage.demo.bases_from import write_bases

    out, _, _ = bases
    model, _, components = from_components(str(out / "qwen"), str(out / "sana"), num_metaqueries=4)
    save_pretrained(model, components, tmp_path / "trained")
    report = write_bases(tmp_path / "trained", tmp_path / "again")
    original = Qwen2_5_VLForConditionalGeneration.from_pretrained(out / "qwen")
    back = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path / "again" / "qwen")
    assert report["mllm_params"] == sum(p.numel() for p in original.parameters())
    assert original.state_dict().keys() == back.state_dict().keys()
    assert all(torch.equal(a, back.state_dict()[k]) for k, a in original.state_dict().items())
    assert len(AutoTokenizer.from_pretrained(tmp_path / "again" / "qwen")) == len(AutoTokenizer.from_pretrained(out / "qwen"))
    assert (tmp_path / "again" / "qwen" / "preprocessor_config.json").is_file()
    vae, vae_back = (AutoencoderDC.from_pretrained(d / "sana" / "vae") for d in (out, tmp_path / "again"))
    assert all(torch.equal(a, b) for a, b in zip(vae.parameters(), vae_back.parameters()))
    # and they are bases again: a fresh DiT beside them makes a model
    write_sana(tmp_path / "again" / "sana", TEST, tmp_path / "again" / "sana" / "vae")
    assert check_bases(tmp_path / "again" / "qwen", tmp_path / "again" / "sana", num_metaqueries=4)["transformer_params"] > 0


def test_bases_step_names_what_it_needs(tmp_path):
    from uniimage.demo.bases_from import write_bases
    from uniimage.cli.demo_stage0 import main
    from uniimage.errors import CheckpointError

    with pytest.raises(SystemExit, match="needs --from"):
        main(["bases", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="stage0 slots needs --from"):
        main(["slots", "--out", str(tmp_path)])
    with pytest.raises(CheckpointError, match="not found"):
        write_bases(tmp_path / "missing", tmp_path / "out")


def test_cell_positions_need_the_cell_loss_and_are_recorded(demo_data, tmp_path, capsys):
    from uniimage.cli.demo_stage0 import main

    with pytest.raises(SystemExit):
        main(["vlm", "--out", str(tmp_path), "--cell-positions"])
    assert "--cell-positions needs --cell-weight > 0" in capsys.readouterr().err
    report = vlm_trainer.train_vlm(demo_data, tmp_path / "qwen", TEST, steps=2, batch=4, eval_n=0, tokenizer_texts=30,
                                   cell_weight=1.0, cell_positions=True)
    assert report["cell_positions"] is True   # train_demo.sh's EDIT_CELLS=1 checks this before the edit cell slots
    assert json.loads((tmp_path / "qwen" / "stage0_report.json").read_text())["cell_positions"] is True


def test_a_tower_phase_moves_the_tower_alone(demo_data, tmp_path, capsys):
    from uniimage.cli.demo_stage0 import main

    vlm_trainer.train_vlm(demo_data, tmp_path / "a", TEST, steps=1, batch=4, eval_n=0, tokenizer_texts=30)
    report = vlm_trainer.train_vlm(demo_data, tmp_path / "b", TEST, steps=2, batch=4, lr=1e-2, eval_n=0, init=tmp_path / "a",
                                   cell_weight=1.0, cell_positions=True, tower_only=True)
    assert report["tower_only"] is True
    before = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path / "a")
    after = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path / "b")
    moved = {n.split(".")[1] for (n, p), q in zip(before.named_parameters(), after.parameters()) if not torch.equal(p, q)}
    assert moved == {"visual"}, moved
    with pytest.raises(ValueError, match="tower_only trains an existing VLM"):
        vlm_trainer.train_vlm(demo_data, tmp_path / "c", TEST, steps=1, batch=4, eval_n=0, tokenizer_texts=30,
                              cell_weight=1.0, tower_only=True)
    with pytest.raises(SystemExit):
        main(["vlm", "--out", str(tmp_path), "--tower-only", "--cell-weight", "1"])
    assert "--tower-only trains an existing VLM's tower" in capsys.readouterr().err


def test_slot_model_comes_back_with_the_fresh_dit(bases, tmp_path):
    from uniimage.checkpoint.pretrained import from_components, load_pretrained, save_pretrained
    from uniimage.demo.bases_from import write_slot_model

    out, _, _ = bases
    model, _, components = from_components(str(out / "qwen"), str(out / "sana"), num_metaqueries=4)
    with torch.no_grad():  # a "trained" model: its DiT, query rows and connector moved away from their start
        for p in list(model.transformer.parameters()) + [model.queries] + list(model.connector.parameters()):
            p.add_(0.5)
    save_pretrained(model, components, tmp_path / "trained")
    report = write_slot_model(tmp_path / "trained", out / "sana", tmp_path / "slots")
    back, _, _ = load_pretrained(str(tmp_path / "slots"), torch.float32)
    fresh = SanaTransformer2DModel.from_pretrained(out / "sana" / "transformer")
    assert report["dit_params"] == sum(p.numel() for p in fresh.parameters())
    assert all(torch.equal(a, fresh.state_dict()[k]) for k, a in back.transformer.state_dict().items())
    assert torch.equal(back.queries, model.queries)  # the MLLM side is the trained model's
    assert all(torch.equal(a, b) for a, b in zip(back.connector.parameters(), model.connector.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(back.mllm.parameters(), model.mllm.parameters()))


def test_slot_model_refuses_a_missing_dit_or_a_used_folder(bases, tmp_path):
    from uniimage.demo.bases_from import write_slot_model
    from uniimage.errors import CheckpointError

    out, _, _ = bases
    with pytest.raises(CheckpointError, match="is not a DiT folder"):
        write_slot_model("demo", tmp_path / "nowhere", tmp_path / "slots")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="not empty; nothing is overwritten"):
        write_slot_model("demo", out / "sana", tmp_path / "used")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"
    with pytest.raises(CheckpointError, match="is not shaped like demo"):  # the test-size DiT against the demo's
        write_slot_model("demo", out / "sana", tmp_path / "slots")


def test_cell_loss_trains_the_tower_and_leaves_no_hook(demo_data):
    from uniimage.demo.cell_supervision import CellHeads, TowerTap

    examples = read_examples(demo_data)[:4]
    runs = {}
    for weight in (0.0, 1.0):
        model, tok, proc = vlm_trainer.make_vlm(TEST, seed=0, tokenizer_texts=30)
        runs[weight] = vlm_trainer.train_steps(model, tok, proc, examples, steps=3, batch=4, lr=3e-3, seed=0, warmup=1,
                                               log_every=0, cell_weight=weight)
        assert not model.model.visual._forward_hooks  # the tap is gone once training ends
    # Same batches and seed: the first step's loss differs by the cell term alone, which is positive.
    assert runs[1.0][0] > runs[0.0][0] + 0.5, runs

    # The tap hands back the tower's merged tokens as [B, rows * cols, H], one forward per batch.
    tap = TowerTap(model.model.visual)
    from uniimage.demo.vlm_data import collate
    import random
    inputs = collate(examples, tok, proc, random.Random(0))
    model(**inputs)
    tokens = tap.take(len(examples))
    merge = model.config.vision_config.spatial_merge_size
    rows, cols = (int(n) // merge for n in inputs["image_grid_thw"][0, 1:])
    assert tokens.shape == (4, rows * cols, model.config.vision_config.out_hidden_size)
    loss = CellHeads(tokens.shape[-1]).loss(tokens, [ex.scene for ex in examples], rows, cols)
    assert torch.isfinite(loss) and loss > 0
    tap.remove()


def test_position_head_reads_each_token_s_own_grid_cell(demo_data):
    from uniimage.demo.cell_supervision import CellHeads

    scenes = [ex.scene for ex in read_examples(demo_data)[:2]]
    rows, cols, hidden = 3, 4, 8
    heads = CellHeads(hidden, positions=True)
    plain = CellHeads(hidden)
    plain.load_state_dict({k: v for k, v in heads.state_dict().items() if not k.startswith("where")})
    # Tokens (r, c, a, 0, -r, -c, -a, 0) with r^2 + c^2 + a^2 = 20 have zero mean and one variance, so the layer
    # norm scales them all alike: an exact linear code of the position, which a position head can read exactly.
    grid = torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), -1).reshape(-1, 2).float()
    code = torch.cat([grid, (20 - (grid ** 2).sum(1, keepdim=True)).sqrt(), torch.zeros(rows * cols, 1)], 1)
    tokens = torch.cat([code, -code], 1).expand(2, -1, -1).contiguous()
    with torch.no_grad():  # the norm divides by sqrt(40 / 8): read channels 0 and 1 back
        heads.where.weight.copy_(torch.eye(2, hidden) * 5 ** 0.5)
        heads.where.bias.zero_()
    n = len(plain.heads)
    attributes = plain.loss(tokens, scenes, rows, cols)  # the mean over the n attribute heads alone
    exact = heads.loss(tokens, scenes, rows, cols)
    assert torch.allclose(exact, attributes * n / (n + 1), atol=1e-4)  # the position term is zero
    with torch.no_grad():
        heads.where.bias.add_(1.0)  # every guess one cell off in both directions: squared error 1
    assert torch.allclose(heads.loss(tokens, scenes, rows, cols), (attributes * n + 1) / (n + 1), atol=1e-4)


def test_rope_theta_reaches_the_fresh_vlm():
    from argparse import Namespace

    from uniimage.demo.stage0 import sizes
    from uniimage.demo.vlm_build import qwen_config
    from uniimage.demo.tokenizer import build_tokenizer

    tok = build_tokenizer(n=30)
    chosen = sizes(Namespace(size="test", rope_theta=10.0))
    assert qwen_config(tok, chosen).text_config.rope_parameters["rope_theta"] == 10.0
    assert qwen_config(tok, sizes(Namespace(size="test", rope_theta=None))).text_config.rope_parameters["rope_theta"] == 1e4
