"""The eval loop: prompts go to the pipeline with the right arguments, images are judged, and the
summary / results have the promised shape.

`GroundTruthPipe` is a test double, not a model: it returns the ground-truth render of each
prompt's scene (and the true answer to each question), so a correct loop must score 1.0 and a
blank-image pipe 0.0. The last test runs the real random "tiny" UniImagePipeline when it exists,
and checks only that the loop runs end to end and reports counts and the JSON shape.
"""

import argparse
import json
import re

import pytest
from PIL import Image

import uniimage
from uniimage.cli import shapes_eval as shapes_cli
from uniimage.errors import InputError
from uniimage.shapes import evaluate as shapes_eval
from uniimage.shapes.edits import edit_items
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.render import render_scene
from uniimage.shapes.vqa import vqa_items


class _Output:
    def __init__(self, images):
        self.images = images


class GroundTruthPipe:
    def __init__(self, split="heldout", limit=24, image_size=shapes_eval.SOURCE_IMAGE_SIZE):
        held = heldout_combinations()
        seed = shapes_eval.PROMPT_SEED
        self.scenes = {}
        for item in t2i_items(limit, split, seed, held):
            self.scenes.setdefault(item.prompt, item.scene)
        for edit in edit_items(limit, split, seed, held):
            self.scenes[(edit.instruction, render_scene(edit.source, image_size).tobytes())] = edit.target
        self.answers = {
            (q.question, render_scene(q.scene, image_size).tobytes()): q.answer for q in vqa_items(limit, split, seed, held)
        }
        self.calls = []

    def __call__(self, prompt, image=None, num_inference_steps=None, guidance_scale=None, num_images_per_prompt=1, generator=None,
                 guidance_interval=None, image_guidance_scale=1.5):
        self.calls.append((prompt, num_inference_steps, guidance_scale, num_images_per_prompt, generator.initial_seed()))
        scene = self.scenes[prompt if image is None else (prompt, image.tobytes())]
        return _Output([render_scene(scene, 96)] * num_images_per_prompt)

    def understand(self, image, question, max_new_tokens=16):
        return self.answers[(question, image.tobytes())].capitalize() + "."

    def to(self, device):  # the CLI moves the pipeline to --device
        self.device = device
        return self


class BlankPipe:
    def __call__(self, prompt, num_images_per_prompt=1, **kwargs):
        return _Output([Image.new("RGB", (64, 64), "white")] * num_images_per_prompt)


def _args(**overrides):
    parser = argparse.ArgumentParser()
    shapes_cli.add_arguments(parser)
    argv = ["--model", overrides.pop("model", "fake")]
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return parser.parse_args(argv)


@pytest.mark.parametrize("task,categories", [
    ("t2i", {"colors", "color_attr", "position", "counting"}),
    ("edit", {"recolor", "add"}),
    ("vqa", {"color", "count", "shape", "position", "exists"}),
])
def test_ground_truth_scores_one(task, categories):
    pipe = GroundTruthPipe()
    rows = shapes_eval.evaluate(pipe, task=task, split="heldout", limit=20, seed=3, steps=7, guidance=2.0, images_per_prompt=2)
    summary = shapes_eval.summarise(rows)
    factors = summary.pop("factors", None)
    assert len(rows) == 20 and set(summary) == categories | {"overall"}
    assert summary["overall"] == 1.0, [r["reason"] for r in rows if r["correct"] < 1]
    if task == "t2i":  # every factor a held-out prompt names is right on the true scene
        assert factors == {"shape": 1.0, "count": 1.0, "colour": 1.0, "binding": 1.0, "position": 1.0}
    else:
        assert factors is None
    if task != "vqa":
        assert pipe.calls[0][1:] == (7, 2.0, 2, 3) and pipe.calls[5][4] == 8  # per-prompt seed = seed + index


def test_blank_images_score_zero_with_reasons():
    rows = shapes_eval.evaluate(BlankPipe(), task="t2i", split="train", limit=12)
    summary = shapes_eval.summarise(rows)
    assert summary["overall"] == 0.0
    assert all(row["correct"] == 0.0 and "found 0" in row["reason"] for row in rows)
    assert {row["category"] for row in rows} == set(summary) - {"overall", "factors"}
    assert summary["factors"] == {"shape": 0.0, "count": 0.0, "colour": 0.0, "binding": 0.0, "position": 0.0}


def test_run_prints_one_json_object_and_writes_results(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(uniimage, "UniImagePipeline", type("P", (), {"from_pretrained": staticmethod(lambda m: GroundTruthPipe("train", 12))}), raising=False)
    out = tmp_path / "results.jsonl"
    assert shapes_cli.run(_args(split="train", limit=12, json=True, out=out)) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    assert summary.pop("factors") == {"shape": 1.0, "count": 1.0, "colour": 1.0, "binding": 1.0, "position": 1.0}
    assert summary == {"overall": 1.0, **{c: 1.0 for c in ("single_object", "two_object", "counting", "colors", "position", "color_attr")}}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and {"prompt", "metadata", "correct", "reason"} <= set(rows[0])


def test_real_tiny_pipeline_loop(tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert shapes_cli.run(_args(model="tiny", limit=6, steps=1, json=True, out=out, image_size=32)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"overall", "colors", "color_attr", "position", "counting", "factors"}
    assert set(summary["factors"]) <= {"shape", "count", "colour", "binding", "position"}
    assert all(0.0 <= value <= 1.0 for value in [*summary["factors"].values(), *summary.values()] if not isinstance(value, dict))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and all(isinstance(row["correct"], float) for row in rows)
    assert shapes_cli.run(_args(model="tiny", task="vqa", limit=5, json=True, image_size=32)) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"overall", "color", "count", "shape", "position", "exists"}


def test_unusable_device_is_named():
    from uniimage.errors import InputError

    with pytest.raises(InputError, match="device 'tpu9' is not usable here"):
        shapes_cli.run(_args(model="tiny", limit=1, device="tpu9"))


class Recorder(BlankPipe):
    """A blank pipe that keeps the keyword arguments of every call."""

    def __init__(self):
        self.kwargs = []

    def __call__(self, prompt, num_images_per_prompt=1, **kwargs):
        self.kwargs.append(kwargs)
        return super().__call__(prompt, num_images_per_prompt, **kwargs)


def test_a_guidance_interval_reaches_every_call_and_none_leaves_the_models_default():
    pipe = Recorder()
    shapes_eval.evaluate(pipe, task="t2i", split="train", limit=3, guidance_interval=[0, 0.8])
    shapes_eval.evaluate(pipe, task="edit", split="train", limit=2, guidance_interval=[0, 0.8])
    assert [k["guidance_interval"] for k in pipe.kwargs] == [(0, 0.8)] * 5
    shapes_eval.evaluate(pipe, task="t2i", split="train", limit=2)
    assert [k["guidance_interval"] for k in pipe.kwargs[5:]] == [None, None]  # the pipeline then uses the config's


def test_the_image_guidance_reaches_every_edit_and_a_negative_one_is_refused():
    pipe = Recorder()
    shapes_eval.evaluate(pipe, task="edit", split="train", limit=2, image_guidance=2.5)
    shapes_eval.evaluate(pipe, task="edit", split="train", limit=1)
    assert [k["image_guidance_scale"] for k in pipe.kwargs] == [2.5, 2.5, 1.5]
    assert _args(image_guidance=3).image_guidance == 3.0
    with pytest.raises(ValueError, match="--image-guidance must be >= 0, got -1"):
        shapes_eval.evaluate(pipe, task="edit", split="train", limit=1, image_guidance=-1)


@pytest.mark.parametrize("flag,value,message", [
    ("image_guidance", -1, "--image-guidance must be at least 0.0, got -1.0"),
    ("limit", 0, "--limit must be at least 1, got 0"),
    ("images_per_prompt", 0, "--images-per-prompt must be at least 1, got 0"),
    ("guidance", "nan", "--guidance must be a finite number, got nan"),
])
def test_bad_numbers_are_refused_before_a_model_loads(flag, value, message):
    with pytest.raises(InputError, match=re.escape(message)):
        shapes_cli.run(_args(model="/no/such/model", **{flag: value}))
