"""The pipeline as a diffusers user drives SanaPipeline: DiffusionPipeline components, .to(dtype),
callback_on_step_end, latents=, and precomputed conditions (prompt_embeds and their negatives)."""

import pytest
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from uniimage import UniImagePipeline
from uniimage.errors import InputError


def run(pipe, prompt="a red circle", seed=0, **kw):
    kw.setdefault("num_inference_steps", 2)
    kw.setdefault("output_type", "latent")
    return pipe(prompt, generator=torch.Generator().manual_seed(seed), progress=False, **kw).images


def test_is_a_diffusion_pipeline_with_typed_components(tiny_pipe):
    assert isinstance(tiny_pipe, DiffusionPipeline)
    assert set(tiny_pipe.components) == {"mllm", "processor", "connector", "transformer", "vae", "scheduler"}
    assert tiny_pipe.components["transformer"] is tiny_pipe.model.transformer
    assert tiny_pipe.config["vae"] == ("diffusers", "AutoencoderDC")
    # diffusers' idiom for a second pipeline on the same weights.
    again = UniImagePipeline(**tiny_pipe.components, **tiny_pipe.parameters)
    torch.testing.assert_close(run(again), run(tiny_pipe), rtol=0, atol=0)
    with pytest.raises(InputError, match="model_config"):
        UniImagePipeline(**tiny_pipe.components)


def test_to_bfloat16_casts_every_component_and_still_draws():
    pipe = UniImagePipeline.from_pretrained("tiny")
    assert pipe.to("cpu", torch.bfloat16) is pipe
    assert pipe.dtype == torch.bfloat16
    for name in ("mllm", "connector", "transformer", "vae"):
        assert {p.dtype for p in getattr(pipe, name).parameters()} == {torch.bfloat16}, name
    images = run(pipe, output_type="np")
    assert images.shape == (1, pipe.default_height, pipe.default_width, 3)
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0
    assert pipe.understand(Image.new("RGB", (28, 28)), "what?", max_new_tokens=2) is not None


def test_callback_sees_latents_and_the_clean_estimate(tiny_pipe):
    seen = []

    def callback(pipe, i, t, kwargs):
        seen.append((i, int(t), kwargs["latents"].clone(), kwargs["denoised"].clone(), pipe.num_timesteps))
        return kwargs

    final = run(tiny_pipe, num_inference_steps=3, callback_on_step_end=callback,
                callback_on_step_end_tensor_inputs=["latents", "denoised"])
    assert [s[0] for s in seen] == [0, 1, 2] and seen[0][1] > seen[-1][1] and seen[0][4] == 3
    torch.testing.assert_close(seen[-1][2], final, rtol=0, atol=0)
    # The sampler's last step (to sigma 0) lands on its clean estimate: denoised is x0 = x_t - sigma v.
    torch.testing.assert_close(seen[-1][3], final, rtol=0, atol=1e-5)
    assert not torch.allclose(seen[0][3], seen[0][2])


def test_callback_may_replace_latents_and_interrupt(tiny_pipe):
    plain = run(tiny_pipe, num_inference_steps=3)

    def zero_after_first(pipe, i, t, kwargs):
        return {"latents": torch.zeros_like(kwargs["latents"])} if i == 0 else kwargs

    assert not torch.allclose(run(tiny_pipe, num_inference_steps=3, callback_on_step_end=zero_after_first), plain)
    steps = []

    def stop(pipe, i, t, kwargs):
        steps.append(i)
        pipe._interrupt = True
        return kwargs

    run(tiny_pipe, num_inference_steps=3, callback_on_step_end=stop)
    assert steps == [0]
    with pytest.raises(InputError, match="callback_on_step_end_tensor_inputs"):
        run(tiny_pipe, callback_on_step_end=stop, callback_on_step_end_tensor_inputs=["noise"])


def test_given_latents_replace_the_seeded_noise(tiny_pipe):
    f = tiny_pipe.model.config.vae_downsample_f
    side = tiny_pipe.default_height // f
    noise = torch.randn((2, tiny_pipe.model.config.in_channels, side, side), generator=torch.Generator().manual_seed(0))
    plain = run(tiny_pipe, num_images_per_prompt=2)
    torch.testing.assert_close(run(tiny_pipe, seed=99, num_images_per_prompt=2, latents=noise), plain, rtol=0, atol=0)
    # Height and width follow the latents when not given.
    big = torch.randn(1, noise.shape[1], 2 * side, side)
    assert run(tiny_pipe, latents=big, output_type="np").shape == (1, 2 * side * f, side * f, 3)
    with pytest.raises(InputError, match="latents must be a tensor of shape"):
        run(tiny_pipe, latents=noise)  # 2 latents for 1 image


def test_precomputed_conditions_give_the_same_images(tiny_pipe):
    source = Image.linear_gradient("L").resize((40, 24)).convert("RGB")
    for kwargs in (dict(prompt=["a red circle", "two squares"]), dict(prompt="make it blue", image=source)):
        conditions = tiny_pipe.encode_conditions(**kwargs, negative_prompt="blurry")
        K, B = tiny_pipe.transformer.num_blocks, len(conditions["prompt_attention_mask"])
        groups = 3 if "image" in kwargs else 2
        assert conditions["prompt_embeds"].shape[:2] == (K, B)
        assert conditions["negative_prompt_embeds"].shape[1] == (groups - 1) * B
        plain = run(tiny_pipe, **kwargs, negative_prompt="blurry")
        reused = tiny_pipe(**conditions, generator=torch.Generator().manual_seed(0), num_inference_steps=2,
                           output_type="latent", progress=False).images
        torch.testing.assert_close(reused, plain, rtol=0, atol=0)
    # Only the prompt's conditions given: the negatives are encoded from negative_prompt, as SanaPipeline does.
    conditions = tiny_pipe.encode_conditions("a red circle")
    only = tiny_pipe(prompt_embeds=conditions["prompt_embeds"], generator=torch.Generator().manual_seed(0),
                     num_inference_steps=2, output_type="latent", progress=False).images
    torch.testing.assert_close(only, run(tiny_pipe), rtol=0, atol=0)


def test_precomputed_conditions_bad_input_is_named(tiny_pipe):
    c = tiny_pipe.encode_conditions("a red circle")
    with pytest.raises(InputError, match="not both"):
        tiny_pipe("a red circle", prompt_embeds=c["prompt_embeds"])
    with pytest.raises(InputError, match="one condition per DiT block"):
        tiny_pipe(prompt_embeds=c["prompt_embeds"][:1])
    with pytest.raises(InputError, match="needs prompt_embeds"):
        tiny_pipe("a red circle", negative_prompt_embeds=c["negative_prompt_embeds"])
    with pytest.raises(InputError, match="mask must be"):
        tiny_pipe(prompt_embeds=c["prompt_embeds"], prompt_attention_mask=torch.ones(3, 2))
