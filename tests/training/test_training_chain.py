"""Stage chain: tiny t2i run -> editing run from it (LoRA on the DiT) -> export -> `uniimage generate`."""

from pathlib import Path

import torch
from PIL import Image

from uniimage.cli.main import main
from uniimage.checkpoint.pretrained import load_pretrained
from uniimage.training import Trainer, load_config, load_trained_model
from uniimage.training import checkpointing as ckpt

CONFIGS = Path(__file__).resolve().parents[2] / "uniimage" / "configs" / "tiny"
FAST = ["log.progress=false", "log.tensorboard=false", "eval.every=0"]


def test_t2i_then_edit_then_export_then_generate(tmp_path, capsys):
    t2i = load_config(CONFIGS / "t2i_pretrain.yaml", [f"output_dir={tmp_path / 't2i'}", "max_steps=3", "batch_size=2",
                                                      "data.synthetic.n_t2i=8", "checkpoint.every=3", *FAST])
    Trainer(t2i).train()
    edit = load_config(CONFIGS / "edit_pretrain.yaml", [
        f"output_dir={tmp_path / 'edit'}", f"model.pretrained={tmp_path / 't2i'}", "max_steps=2", "batch_size=2",
        "data.synthetic.n_edit=4", "checkpoint.every=2", "freeze.lora={targets: [dit], rank: 4}", *FAST])
    assert edit.model.pretrained == str(tmp_path / "t2i" / "checkpoint-3")  # the run folder, pinned to its newest
    trainer = Trainer(edit)
    # The editing run starts from the t2i run's trained weights, not from the random preset.
    t2i_weights = ckpt.load_trainable(tmp_path / "t2i" / "checkpoint-3")
    assert torch.equal(dict(trainer.model.named_parameters())["connector.0.weight"], t2i_weights["connector.0.weight"])
    trainer.train()
    # Export through the CLI, then generate through the CLI.
    out = tmp_path / "export"
    assert main(["export", str(tmp_path / "edit" / "checkpoint-2"), str(out)]) == 0
    exported, _, _ = load_pretrained(str(out))
    merged, _, _ = load_trained_model(tmp_path / "edit")
    for name, p in merged.state_dict().items():
        assert torch.equal(p, exported.state_dict()[name]), name
    assert not any("lora_" in n for n in exported.state_dict())
    png = tmp_path / "img.png"
    assert main(["generate", "a red circle", "--model", str(out), "--steps", "2", "-o", str(png)]) == 0
    assert Image.open(png).size == (32, 32)


def test_export_refuses_non_checkpoints(tmp_path, capsys):
    assert main(["export", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "neither a training checkpoint" in capsys.readouterr().err


def test_train_cli_reports_config_errors_on_one_line(tmp_path, capsys):
    code = main(["train", str(CONFIGS / "t2i_pretrain.yaml"), f"output_dir={tmp_path}", "optim.lrr=1"])
    err = capsys.readouterr().err
    assert code == 1 and "unknown config key(s): optim.lrr" in err and len(err.strip().splitlines()) == 1


def test_train_cli_resumed_at_max_steps_takes_no_step_and_says_so(tmp_path, capsys):
    """A chain continued in a later sitting (scripts/train_demo.sh RESUME=1) resumes stages that already ended:
    they must keep their weights and report that no step ran, not a nan loss."""
    args = ["train", str(CONFIGS / "t2i_pretrain.yaml"), f"output_dir={tmp_path}", "max_steps=2", "batch_size=2",
            "data.synthetic.n_t2i=4", "checkpoint.every=2", *FAST]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "trained to step 2" in first and "final loss" in first and "nan" not in first
    before = ckpt.load_trainable(tmp_path / "checkpoint-2")
    assert main([*args, "--resume"]) == 0
    again = capsys.readouterr().out
    assert "trained to step 2" in again and "no step run (already at max_steps)" in again and "nan" not in again
    after = ckpt.load_trainable(tmp_path / "checkpoint-2")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
