"""Demo stage 4 (answer layers): layers stacked above the ladder train on VQA while every condition the DiT
reads, so every drawn image, keeps its exact values; the grown model saves and loads as any other."""

import json

import pytest
import torch

from uniimage.checkpoint.pretrained import from_components, load_pretrained, save_pretrained
from uniimage.demo.answer_layers import (answer_layer_start, answer_parameters, grow_answer_layers,
                                         train_answer_layers, answer_examples)
from uniimage.errors import ConfigError, InputError


def _condition(model, processor):
    inputs = processor.generation_inputs(["a red circle", "two blue squares"], [[], []])  # prompt + query tokens
    with torch.no_grad():
        return model.encode_condition(inputs.input_ids, inputs.attention_mask)[0]


def test_grown_layers_start_as_the_identity(tiny):
    model, processor, components = tiny
    inputs = processor.understanding_inputs([], "what colour is the circle?")
    with torch.no_grad():
        before = model.mllm(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask).logits
    top = model.num_mllm_layers
    with pytest.raises(ConfigError, match="grow must be >= 0"):
        grow_answer_layers(model, -1)
    assert model.num_mllm_layers == top
    grow_answer_layers(model, 2)
    assert model.num_mllm_layers == top + 2 == model.mllm.config.text_config.num_hidden_layers
    assert [layer.self_attn.layer_idx for layer in model.text_model.layers] == list(range(top + 2))
    with torch.no_grad():
        after = model.mllm(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask).logits
    assert torch.equal(before, after)


def test_training_moves_only_the_answer_layers_and_the_condition_stays_exact(tiny, demo_data):
    model, processor, components = tiny
    condition = _condition(model, processor)
    ladder = list(model.ladder)
    start = answer_layer_start(model)
    grow_answer_layers(model, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    examples = answer_examples(16, seed=1, describe_share=0.25)
    losses = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=12, batch=4, lr=3e-3)
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3])
    moved = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    trained = {f"mllm.model.language_model.layers.{i}." for i in range(start, model.num_mllm_layers)} | {"mllm.model.language_model.norm."}
    assert moved and all(any(k.startswith(t) for t in trained) for k in moved), sorted(moved)[:5]
    assert model.ladder == ladder and model.config.ladder == ladder
    assert torch.equal(_condition(model, processor), condition)
    assert not any(p.requires_grad for p in model.mllm.parameters())  # left frozen


def test_grown_model_saves_and_loads_with_its_ladder(tiny, tmp_path):
    model, processor, components = tiny
    grow_answer_layers(model, 2)
    with torch.no_grad():
        for p in answer_parameters(model):
            p.add_(0.01)
    save_pretrained(model, components, tmp_path / "grown")  # writes the grown MLLM config itself
    saved = json.loads((tmp_path / "grown" / "mllm" / "config.json").read_text())
    assert saved["text_config"]["num_hidden_layers"] == model.num_mllm_layers
    back, back_processor, _ = load_pretrained(str(tmp_path / "grown"))
    assert back.num_mllm_layers == model.num_mllm_layers and back.ladder == model.ladder
    assert json.loads((tmp_path / "grown" / "config.json").read_text())["ladder"] == model.ladder
    assert all(torch.equal(a, b) for a, b in zip(back.mllm.parameters(), model.mllm.parameters()))
    assert torch.equal(_condition(back, back_processor), _condition(model, processor))


def test_a_ladder_reading_the_final_state_leaves_no_answer_layer(bases):
    out, _, _ = bases
    model, _, _ = from_components(str(out / "qwen"), str(out / "sana"), num_metaqueries=4, ladder="final")
    with pytest.raises(ConfigError, match="final"):
        grow_answer_layers(model, 1)
    with pytest.raises(ConfigError, match="final"):
        answer_parameters(model)


def test_command_refuses_a_used_folder(tmp_path):
    from uniimage.cli.demo_answer import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("saved")
    with pytest.raises(InputError, match="not empty"):
        main(["unused-model", "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "keep.txt").read_text() == "saved"


def test_examples_mix_questions_and_full_captions():
    from uniimage.demo.describe import DESCRIBE_PROMPT, describe_scene

    examples = answer_examples(200, seed=3, describe_share=0.3)
    captions = [e for e in examples if e.prompt == DESCRIBE_PROMPT]
    assert 40 <= len(captions) <= 80
    assert all(e.answer == describe_scene(e.scene) for e in captions)
    assert all(e.answer in {"yes", "no", "1", "2", "3", "4"} or " " not in e.answer for e in examples if e not in captions)
    with pytest.raises(ConfigError, match="describe_share"):
        answer_examples(4, seed=0, describe_share=1.5)
    with pytest.raises(ConfigError, match="where_share"):
        answer_examples(4, seed=0, where_share=-0.1)
    with pytest.raises(ConfigError, match="position_extra"):
        answer_examples(4, seed=0, position_extra=-1)
    more = answer_examples(200, seed=3, describe_share=0.0, position_extra=50)
    assert more[:200] == answer_examples(200, seed=3, describe_share=0.0)  # the extra ones come after, the rest stays
    assert len(more) == 250 and all(e.prompt.startswith("is the ") and e.answer in ("yes", "no") for e in more[200:])


def test_where_questions_name_the_shape_on_that_side():
    from uniimage.shapes.relations import relations_between

    plain = answer_examples(400, seed=5)
    assert answer_examples(400, seed=5, where_share=0.0) == plain  # off by default: the same examples
    mixed = answer_examples(400, seed=5, where_share=1.0)
    where = [e for e in mixed if e.prompt.startswith("which shape is") and e.prompt.split()[-1].rstrip("?") in
             ("left", "right", "top", "bottom")]
    assert len(where) >= 40 and not any(e.prompt.startswith("is the") and "left of" in e.prompt for e in mixed)
    sides = {"left": "left of", "right": "right of", "top": "above", "bottom": "below"}
    for e in where:
        named = [o for o in e.scene.objects if o.shape == e.answer]
        other = [o for o in e.scene.objects if o.shape != e.answer]
        assert len(named) == len(other) == 1
        assert sides[e.prompt.split()[-1].rstrip("?")] in relations_between(named[0], other[0])


def test_command_writes_a_grown_model_that_loads(tiny, tmp_path):
    from uniimage.cli.demo_answer import main

    model, processor, components = tiny
    save_pretrained(model, components, tmp_path / "model")
    assert main([str(tmp_path / "model"), "--out", str(tmp_path / "grown"), "--grow", "1", "--steps", "2",
                 "--batch", "2", "--n-vqa", "8", "--eval-n", "0"]) == 0
    report = json.loads((tmp_path / "grown" / "answer_report.json").read_text())
    assert report["layers"] == model.num_mllm_layers + 1 and report["ladder"] == list(model.ladder)
    assert report["earlier_rounds"] == []   # a model without answer layers: the first round
    back, back_processor, _ = load_pretrained(str(tmp_path / "grown"))
    assert back.num_mllm_layers == model.num_mllm_layers + 1
    assert torch.equal(_condition(back, back_processor), _condition(model, processor))


def test_a_later_round_takes_its_starting_scores_from_the_round_before(tiny, tmp_path, monkeypatch):
    """The weights a round starts from are the ones the round before scored after training: not scored again."""
    import uniimage.demo.eval_vlm as eval_vlm
    from uniimage.cli.demo_answer import main

    model, _, components = tiny
    save_pretrained(model, components, tmp_path / "model")
    common = ["--steps", "1", "--batch", "2", "--n-vqa", "8", "--eval-n", "2"]
    assert main([str(tmp_path / "model"), "--out", str(tmp_path / "r1"), "--grow", "1", *common]) == 0
    calls = []
    scorer = eval_vlm.vqa_accuracy
    monkeypatch.setattr(eval_vlm, "vqa_accuracy", lambda *a, **k: calls.append(a[3]) or scorer(*a, **k))
    assert main([str(tmp_path / "r1"), "--out", str(tmp_path / "r2"), "--grow", "0", *common]) == 0
    first, second = (json.loads((tmp_path / r / "answer_report.json").read_text()) for r in ("r1", "r2"))
    assert second["vqa_before"] == first["vqa_after"] and calls == ["train", "heldout"]  # only after training
    assert main([str(tmp_path / "r2"), "--out", str(tmp_path / "r3"), "--grow", "0", *common[:-1], "3"]) == 0
    assert calls == ["train", "heldout"] * 3   # another question count: scored again, before and after


def test_a_later_round_keeps_training_the_same_answer_layers(tiny, tmp_path):
    """train_demo.sh's later stage-4 rounds (--grow 0): no layer is added, the grown layers move, the rest and every
    condition stay exact."""
    from safetensors.torch import load_file

    from uniimage.cli.demo_answer import main

    model, processor, components = tiny
    save_pretrained(model, components, tmp_path / "model")
    common = ["--steps", "2", "--batch", "2", "--n-vqa", "8", "--eval-n", "0", "--lr", "3e-3"]
    assert main([str(tmp_path / "model"), "--out", str(tmp_path / "r1"), "--grow", "1", *common]) == 0
    assert main([str(tmp_path / "r1"), "--out", str(tmp_path / "r2"), "--grow", "0", "--seed", "1", *common]) == 0
    report = json.loads((tmp_path / "r2" / "answer_report.json").read_text())
    assert report["grow"] == 0 and report["layers"] == model.num_mllm_layers + 1 and report["seed"] == 1
    assert [r["grow"] for r in report["earlier_rounds"]] == [1] and report["earlier_rounds"][0]["from"] == "model"
    one, two = (load_file(str(tmp_path / r / "model.safetensors")) for r in ("r1", "r2"))
    assert one.keys() == two.keys()
    moved = [k.split("mllm_backbone.model.")[-1] for k in one if not torch.equal(one[k], two[k])]
    layers = {int(k.split(".")[1]) for k in moved if k.startswith("layers.")}
    start = answer_layer_start(model)
    assert model.num_mllm_layers in layers and min(layers) >= start, (layers, start)  # the grown layer moved too
    assert all(k.startswith("layers.") or k == "norm.weight" for k in moved), moved  # above the ladder only
    back, back_processor, _ = load_pretrained(str(tmp_path / "r2"))
    assert torch.equal(_condition(back, back_processor), _condition(model, processor))


def test_training_the_tower_too_keeps_text_to_image_conditions_exact(tiny):
    model, processor, components = tiny
    condition = _condition(model, processor)
    grow_answer_layers(model, 1)
    tower = {n: p.clone() for n, p in model.mllm.model.visual.named_parameters()}
    assert len(answer_parameters(model, tower=True)) == len(answer_parameters(model)) + len(tower)
    examples = answer_examples(8, seed=2, describe_share=0.0)
    train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=3, batch=4, lr=3e-3, tower=True)
    assert any(not torch.equal(p, tower[n]) for n, p in model.mllm.model.visual.named_parameters())
    assert torch.equal(_condition(model, processor), condition)  # text-to-image never runs the tower


def test_two_processes_train_as_one_process_with_the_same_batch(tiny, tmp_path):
    """torchrun with 2 gloo processes, each on half of every batch of 4, against one process here: the same weights
    (the shares hold different numbers of answer tokens, so this checks the token-mean correction too)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    from uniimage.cli.demo_answer import main

    model, _, components = tiny
    save_pretrained(model, components, tmp_path / "model")
    args = [str(tmp_path / "model"), "--grow", "1", "--steps", "3", "--batch", "4", "--n-vqa", "16", "--eval-n", "0",
            "--lr", "3e-3", "--train-tower", "--prior-tau", "1", "--describe-share", "0.5"]
    repo = Path(__file__).parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "uniimage.cli.demo_answer", *args, "--out", str(tmp_path / "two")]
    workers = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert main([*args, "--out", str(tmp_path / "one")]) == 0  # meanwhile, in this process
        log, _ = workers.communicate(timeout=300)
    finally:
        if workers.poll() is None:
            os.killpg(workers.pid, signal.SIGKILL)
    assert workers.returncode == 0, log[-3000:]
    assert json.loads((tmp_path / "two" / "answer_report.json").read_text())["processes"] == 2
    one, two = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("one", "two"))
    start = load_file(str(tmp_path / "model" / "model.safetensors"))
    assert one.keys() == two.keys()
    diff = max((one[k] - two[k]).abs().max().item() for k in one)
    moved = max((one[k] - start[k]).abs().max().item() for k in start)
    assert diff < 1e-5 and moved > 100 * diff, (diff, moved)


def test_a_batch_that_does_not_split_over_the_processes_is_refused(tmp_path, monkeypatch):
    from uniimage.cli.demo_answer import main

    monkeypatch.setattr("uniimage.demo.data_parallel.init_from_env", lambda: (0, 2))
    with pytest.raises(InputError, match="does not split evenly over 2 processes"):
        main(["unused-model", "--out", str(tmp_path / "out"), "--batch", "5"])
    assert not (tmp_path / "out").exists()


def test_the_cell_loss_needs_the_tower(tiny):
    model, processor, components = tiny
    grow_answer_layers(model, 1)
    with pytest.raises(ConfigError, match="needs tower=True"):
        train_answer_layers(model, processor.tokenizer, components.image_processor(), answer_examples(4, seed=0), steps=1,
                            batch=2, cell_weight=1.0)


def test_the_cell_loss_with_positions_trains_beside_the_answers(tiny):
    model, processor, components = tiny
    grow_answer_layers(model, 1)
    examples = answer_examples(8, seed=2, describe_share=0.0)
    plain = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=1, batch=4, lr=0.0,
                                tower=True)
    cells = train_answer_layers(model, processor.tokenizer, components.image_processor(), examples, steps=1, batch=4, lr=0.0,
                                tower=True, cell_weight=1.0, cell_positions=True)
    assert cells[0] > plain[0] + 0.5  # the same batch: the loss adds the (positive) per-cell and position terms
