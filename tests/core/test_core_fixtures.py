"""Compatibility with the original implementation: every golden fixture (tbac-tiny-*; tests/fixtures and UNIIMAGE_FIXTURES),
loaded through from_pretrained with config overrides pointing at its base folders, reproduces the
conditioning, latents, images and understanding tokens it recorded. Nothing here knows a fixture's sizes."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from golden import first_fixture, fixture_dirs

first_fixture()  # a clear failure when none is found
FIXTURES = fixture_dirs()


def load(fixture):
    from uniimage import UniImagePipeline

    config = json.loads((fixture / "checkpoint" / "config.json").read_text())
    overrides = {k: str(fixture / config[k]) for k in ("mllm_id", "diffusion_model_id", "vae_id", "scheduler_id", "noise_scheduler_id") if k in config}
    return UniImagePipeline.from_pretrained(fixture / "checkpoint", torch_dtype=torch.float32, **overrides)


@pytest.fixture(scope="module", params=FIXTURES, ids=[f.name for f in FIXTURES])
def fixture_pipe(request):
    return request.param, load(request.param)


def cases(fixture):
    return json.loads((fixture / "cases.json").read_text())["cases"]


def call_args(fixture, call):
    image = Image.open(fixture / "input.png") if call.get("image") else None
    gen = torch.Generator().manual_seed(call["generator"]["manual_seed"])
    return dict(prompt=call["caption"], image=image, negative_prompt=call["negative_prompt"],
                guidance_scale=call["guidance_scale"], image_guidance_scale=call["image_guidance_scale"],
                num_inference_steps=call["num_inference_steps"], num_images_per_prompt=call["num_images_per_prompt"],
                generator=gen, progress=False)


def test_conditioning_and_token_ids(fixture_pipe):
    fixture, pipe = fixture_pipe
    for case in cases(fixture):
        call, arrays = case["call"], np.load(fixture / case["arrays_file"])
        args = call_args(fixture, call)
        prompts = pipe._prompts(args["prompt"])
        captions, images, _ = pipe.cfg_rows(prompts, [args["negative_prompt"]] * len(prompts),
                                            pipe._images(args["image"], len(prompts)),
                                            args["guidance_scale"], args["image_guidance_scale"])
        n = args["num_images_per_prompt"]
        inputs = pipe.processor.generation_inputs(captions, images)
        np.testing.assert_array_equal(inputs.input_ids.repeat_interleave(n, 0).numpy(), arrays["input_ids"], err_msg=case["id"])
        np.testing.assert_array_equal(inputs.attention_mask.repeat_interleave(n, 0).numpy(), arrays["attention_mask"])
        condition, mask = pipe.encode_prompt(captions, images)
        condition = condition.repeat_interleave(n, 1).numpy()
        assert condition.shape == arrays["cond"].shape
        assert np.abs(condition - arrays["cond"]).max() < 1e-4, case["id"]
        np.testing.assert_array_equal(mask.repeat_interleave(n, 0).numpy(), arrays["cond_attention_mask"])


def test_latents_and_images(fixture_pipe):
    fixture, pipe = fixture_pipe
    for case in cases(fixture):
        arrays = np.load(fixture / case["arrays_file"])
        args = call_args(fixture, case["call"])
        latents = pipe(**args, output_type="latent").images
        np.testing.assert_array_equal(pipe.scheduler.timesteps.numpy(), arrays["timesteps"])
        assert np.abs(latents.numpy() - arrays["final_latents"]).max() < 1e-4, case["id"]
        images = np.stack([np.asarray(im) for im in pipe.decode_latents(latents, "pil")])
        assert images.shape == arrays["images"].shape
        assert np.abs(images.astype(int) - arrays["images"].astype(int)).max() <= 1, case["id"]
        png = np.asarray(Image.open(fixture / case["image_files"][0]))
        assert np.abs(images[0].astype(int) - png.astype(int)).max() <= 1


def test_dit_first_step_output(fixture_pipe):
    """The raw DiT output on the first step, for cases that recorded it."""
    fixture, pipe = fixture_pipe
    for case in cases(fixture):
        arrays = np.load(fixture / case["arrays_file"])
        if "dit_step0_output" not in arrays:
            continue
        seen = {}
        original = pipe.model.forward

        def spy(latents, timestep, condition, mask):
            out = original(latents, timestep, condition, mask)
            seen.setdefault("out", out.detach().clone())
            return out

        pipe.model.forward = spy
        try:
            pipe(**call_args(fixture, case["call"]), output_type="latent")
        finally:
            del pipe.model.forward
        assert np.abs(seen["out"].numpy() - arrays["dit_step0_output"]).max() < 1e-4


def test_understanding_tokens(fixture_pipe):
    fixture, pipe = fixture_pipe
    spec = json.loads((fixture / "cases.json").read_text()).get("understanding")
    if spec is None:
        pytest.skip(f"{fixture.name} records no understanding case")
    arrays = np.load(fixture / spec["arrays_file"])
    image = Image.open(fixture / "input.png")
    question = next(p["text"] for p in spec["messages"][0]["content"] if p["type"] == "text")
    inputs = pipe.processor.understanding_inputs([image.convert("RGB")], question)
    np.testing.assert_array_equal(inputs.input_ids.numpy(), arrays["input_ids"])
    ids = pipe.understand_ids(image, question, max_new_tokens=len(spec["generated_ids"]))
    assert ids.tolist() == spec["generated_ids"]
    text = pipe.understand(image, question, max_new_tokens=len(spec["generated_ids"]))
    assert text == pipe.processor.tokenizer.decode(spec["generated_ids"], skip_special_tokens=True)
    assert "".join(pipe.understand_stream(image, question, max_new_tokens=len(spec["generated_ids"]))) == text
