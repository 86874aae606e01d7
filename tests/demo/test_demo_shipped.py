"""The shipped demo model (uniimage/presets/demo, v14: issue 13): it loads by name, draws at its size, draws
the README's prompt, reaches the text-to-image targets on training-split (0.80) and held-out (0.35) ShapesEval
prompts, and answers questions about images.

Chance is computed, not assumed: the same scorer on the same prompts given (a) a blank image, (b) noise
and (c) a correctly drawn scene of a *different* prompt (a model that draws plausible shapes but ignores
the prompt). The threshold is the larger of 2x that chance and a floor set well below what was measured
(README "Stages 1-3")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from uniimage.presets import preset_folder
from uniimage.shapes.evaluate import PROMPT_SEED
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.render import render_scene
from uniimage.shapes.score import judge

# The held-out set of `uniimage eval shapes --split heldout --limit 60 --seed 0` (categories cycled: 15 prompts of
# each of the 4 held-out t2i categories). Until v9 this was 12 prompts; v10 drew 4 of those 12, exactly 2x their
# chance of 2 in 12, while 60 prompts x 3 seeds measure 0.172: 12 prompts cannot tell the two apart.
N_PROMPTS = 60
STEPS = 20
SCORE_FLOOR = 0.2  # never below this, whatever chance comes out as


def _shipped() -> bool:
    folder = preset_folder("demo")
    return folder is not None and any(folder.glob("*.safetensors"))


@pytest.fixture(scope="module")
def pipe():
    from uniimage import UniImagePipeline

    assert _shipped(), "uniimage/presets/demo has no weights: run scripts/train_demo.sh"
    torch.manual_seed(0)
    return UniImagePipeline.from_pretrained("demo", torch_dtype=torch.float32)


@pytest.fixture(scope="module")
def items():
    return t2i_items(N_PROMPTS, "heldout", PROMPT_SEED, heldout_combinations())


def _accuracy(images, items) -> float:
    return sum(judge(image, item.metadata)[0] for image, item in zip(images, items)) / len(items)


def chance(items, size: int) -> float:
    blank = [Image.new("RGB", (size, size), "white")] * len(items)
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in items]
    other = [render_scene(items[(i + 1) % len(items)].scene, size) for i in range(len(items))]
    return max(_accuracy(blank, items), _accuracy(noise, items), _accuracy(other, items))


def test_demo_is_shipped_as_safetensors_within_budget():
    folder = preset_folder("demo")
    assert folder is not None and (folder / "config.json").is_file()
    weights = list(folder.rglob("*.safetensors"))
    assert weights, "no safetensors weights in uniimage/presets/demo"
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert total <= 26 * 2**20, f"shipped demo folder is {total / 2**20:.1f} MB"
    for component in ("mllm", "sana"):
        assert (folder / component).is_dir()


def test_default_model_is_demo():
    from uniimage.cli.generate import default_model

    assert default_model() == "demo"


def test_loads_by_name_and_generates_its_size(pipe):
    size = pipe.model.config.image_size
    out = pipe("a red circle above a blue square", num_inference_steps=4, generator=torch.Generator().manual_seed(0),
               progress=False)
    assert len(out.images) == 1
    assert out.images[0].size == (size, size) == (64, 64)


@pytest.fixture(scope="module")
def heldout_scores(pipe, items):
    """Accuracy on the 60 held-out prompts (sampling seed = prompt index) and the chance baseline."""
    images = [pipe(item.prompt, num_inference_steps=STEPS, guidance_scale=4.5,
                   generator=torch.Generator().manual_seed(index), progress=False).images[0]
              for index, item in enumerate(items)]
    return _accuracy(images, items), chance(items, pipe.model.config.image_size)


# Measured (demo README "v19", "v18", "v17", "v15", "v12"): the shipped v19 model scores 0.422 on 60 held-out t2i prompts (mean
# of 3 sampling seeds; 0.900 on training-split prompts over 6), v18 0.478 / 0.833, v17 0.483 / 0.867, v16 0.522 / 0.861, v15 0.606 / 0.867, v12-v14 0.494 / 0.833; v11 0.267 / 0.761, v10 0.172 / 0.644, v9 0.150 / 0.656, v5 0.072 / 0.483.
# v11 was the first demo to pass 2x chance here, v12 the first to reach the issue-13 target (0.35), checked below.
def test_scores_far_above_chance_on_heldout_prompts(heldout_scores):
    score, base = heldout_scores
    assert base < 0.2, f"chance baseline unexpectedly high: {base:.3f}"
    assert score >= max(2 * base, SCORE_FLOOR), f"held-out t2i accuracy {score:.3f} vs chance {base:.3f}"


HELDOUT_TARGET = 0.35  # issue 13: 3x chance


def test_meets_the_heldout_target(heldout_scores):
    score, _ = heldout_scores
    assert score >= HELDOUT_TARGET, f"held-out t2i accuracy {score:.3f} < target {HELDOUT_TARGET}"


# The training-split t2i check is issue 13's target (0.80), met since v12; the VQA checks are its targets (0.90 on
# the training split, met since v17; 0.60 held-out, met since v15). Editing has a floor, set between v16 and what
# the shipped model measures, so a retrained demo that falls back fails here: its target (0.60) is not met yet
# (demo README).
T2I_TRAIN_TARGET = 0.80  # `uniimage eval shapes --split train --task t2i --limit 60 --seed 0`: v19 0.867 (counting arranged from stage 1, half edits), v18 0.833 (the count stage), v17 0.883, v16 0.850, v15 0.833, v12 0.833, v11 0.767, v10 0.633, v9 0.717, v3 0.383
VQA_TRAIN_TARGET = 0.90  # `--task vqa --split train --limit 100`: v19, v18 and v17 0.96 (stage 4 in five rounds), v16 0.75, v15 0.72, v14 and v13 0.73 (answer layers), v12 0.62, v11 and v10 0.63 (the slot stage's MLLM), v9 0.66, v8 0.71, v3 0.59
VQA_HELDOUT_TARGET = 0.60  # `--task vqa --split heldout --limit 100`: v19, v18 and v17 0.79, v16 0.60 (tower frozen in stage 4), v15 0.62, v14 0.58 (answer prior adjusted, tower trained), v13 0.49, v12, v11 and v10 0.48, v9 0.39, v3 0.39
EDIT_TRAIN_FLOOR = 0.50  # `--task edit --split train --limit 60 --seed 0`: v19 0.600 (half of stage 1's samples edits), v18 and v17 0.550 (the longer tower phase), v16 0.383 (edits in stage 1), v15 to v3 0.00-0.02


def test_meets_the_training_split_target(pipe):
    from uniimage.shapes.evaluate import evaluate, summarise

    summary = summarise(evaluate(pipe, task="t2i", split="train", limit=60, seed=0))
    assert summary["overall"] >= T2I_TRAIN_TARGET, summary


# Issue 13 wants every training-split category at 0.60 or more; counting was the one below it until v18 (v17 0.42:
# "three" drawn as four). Its 10 prompts among the first 60, drawn as `uniimage eval shapes --split train --task t2i
# --limit 60 --seed S` draws them (generator seed S + prompt index), for S = 0..5: v19 0.917 (arranged from stage 1), v18 0.633 (the count stage), v17 0.417.
COUNTING_TARGET = 0.60


def test_meets_the_counting_target_over_six_seeds(pipe):
    items = [(i, it) for i, it in enumerate(t2i_items(60, "train", PROMPT_SEED, heldout_combinations()))
             if it.metadata["tag"] == "counting"]
    assert len(items) == 10
    right = [judge(pipe(it.prompt, num_inference_steps=STEPS, guidance_scale=4.5, progress=False,
                        generator=torch.Generator().manual_seed(seed + i)).images[0], it.metadata)[0]
             for seed in range(6) for i, it in items]
    assert sum(right) / len(right) >= COUNTING_TARGET, f"counting {sum(right)}/{len(right)}"


def test_meets_the_training_split_vqa_target(pipe):
    from uniimage.shapes.evaluate import evaluate, summarise

    summary = summarise(evaluate(pipe, task="vqa", split="train", limit=100))
    assert summary["overall"] >= VQA_TRAIN_TARGET, summary


def test_meets_the_heldout_vqa_target(pipe):
    from uniimage.shapes.evaluate import evaluate, summarise

    summary = summarise(evaluate(pipe, task="vqa", split="heldout", limit=100))
    assert summary["overall"] >= VQA_HELDOUT_TARGET, summary


def test_edits_training_split_scenes_above_the_floor(pipe):
    from uniimage.shapes.evaluate import evaluate, summarise

    summary = summarise(evaluate(pipe, task="edit", split="train", limit=60, seed=0))
    assert summary["overall"] >= EDIT_TRAIN_FLOOR, summary


DESCRIBE_EXACT_FLOOR = 0.70  # `describe_accuracy`, 50 training-split scenes: v19, v18 and v17 0.80, v16 0.64, v14 0.70, v13 0.38, v12 0.16


def test_describes_training_scenes_with_their_exact_caption(pipe):
    from uniimage.demo.eval_vlm import describe_accuracy

    score = describe_accuracy(pipe.model.mllm, pipe.processor.tokenizer, pipe.processor.image_processor, n=50)
    assert score >= DESCRIBE_EXACT_FLOOR, score


def readme_prompt() -> str:
    """The prompt of the README's first command (the one every new user runs)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r'uniimage generate "([^"]+)"', readme)
    assert match, "README.md has no `uniimage generate \"...\"` command"
    return match.group(1)


def test_readme_prompt_is_drawn_right_for_most_seeds(pipe):
    """The README's first command must show what it says: its prompt is from the training split, and the
    scorer finds the drawing correct for at least 3 of 4 seeds (v12, v11, v10, v9, v8, v7, v6, v5 and v4 pass it for "a photo of a blue circle")."""
    from uniimage.shapes.heldout import heldout_combinations
    from uniimage.shapes.vocab import COLORS, SHAPES

    prompt = readme_prompt()
    words = prompt.split()
    colours = [w for w in words if w in COLORS]
    shapes = [w.rstrip("s") for w in words if w.rstrip("s") in SHAPES]
    assert len(colours) == 1 and len(shapes) == 1, f"the test reads one colour and one shape from {prompt!r}"
    assert not heldout_combinations().has_color_shape(colours[0], shapes[0]), f"{prompt!r} is a held-out pair"
    metadata = {"include": [{"class": shapes[0], "count": 1, "color": colours[0]}], "exclude": []}
    verdicts = [judge(pipe(prompt, num_inference_steps=STEPS, guidance_scale=4.5, generator=torch.Generator().manual_seed(seed),
                           progress=False).images[0], metadata) for seed in range(4)]
    assert sum(ok for ok, _ in verdicts) >= 3, verdicts


def test_uses_its_condition_on_training_scenes(pipe, tmp_path):
    """Right captions must denoise training scenes better than the same captions shuffled across images
    (same noise and timesteps). The first shipped demo ignored its condition: gap 3e-5; v3 measures 0.013 on
    128 stage-0 pairs and 0.010 on these 64 freshly rendered training-split pairs (uniimage/demo/README.md)."""
    from uniimage.evaluation.condition_use import condition_loss_gap, read_pairs
    from uniimage.shapes.dataset import write_dataset

    write_dataset(tmp_path, 64, 0, 0, split="train", image_size=pipe.model.config.image_size, seed=5, formats=("jsonl",))
    images, captions = read_pairs(tmp_path / "train.jsonl", 64)
    gap = condition_loss_gap(pipe, images, captions)
    assert gap["shuffled"] - gap["right"] >= 0.004, gap


def test_reads_the_shape_word(pipe):
    """Swapping only the shape word of a single-object training scene's caption must cost loss (v3: 0.015 on
    these 64 scenes; 0.008-0.015 over three seeds). Colour swaps cost v3 only 0.0003-0.0026, the weakness
    that keeps the held-out check above failing (uniimage/demo/README.md, "What stops the targets")."""
    from uniimage.evaluation.condition_use import attribute_loss_gaps

    losses = attribute_loss_gaps(pipe, 64, seed=0)
    assert losses["shape_swapped"] - losses["right"] >= 0.004, losses


def test_describe_answers_with_text(pipe, items):
    image = render_scene(items[0].scene, 256)
    answer = pipe.understand(image, "Describe this image.", max_new_tokens=32)
    assert isinstance(answer, str) and answer.strip()
