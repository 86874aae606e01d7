"""Pipeline behaviour and bad input: every case named in the core issue."""

import io
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from uniimage.errors import InputError
from uniimage.utils.images import ImageInputError, load_image


def run(pipe, prompt="a red circle", **kw):
    kw.setdefault("num_inference_steps", 2)
    kw.setdefault("progress", False)
    kw.setdefault("output_type", "np")
    return pipe(prompt, **kw).images


def test_same_seed_same_image_and_different_seed_differs(tiny_pipe):
    a = run(tiny_pipe, generator=torch.Generator().manual_seed(1))
    b = run(tiny_pipe, generator=torch.Generator().manual_seed(1))
    c = run(tiny_pipe, generator=torch.Generator().manual_seed(2))
    assert (a == b).all() and not (a == c).all()


def test_output_types(tiny_pipe):
    h, w = tiny_pipe.default_height, tiny_pipe.default_width
    assert run(tiny_pipe, output_type="np").shape == (1, h, w, 3)
    pil = run(tiny_pipe, output_type="pil")
    assert isinstance(pil[0], Image.Image) and pil[0].size == (w, h)
    f = tiny_pipe.model.config.vae_downsample_f
    assert run(tiny_pipe, output_type="latent").shape == (1, tiny_pipe.model.config.in_channels, h // f, w // f)
    with pytest.raises(InputError, match="output_type"):
        run(tiny_pipe, output_type="jpeg")


def test_per_prompt_generators_reproduce_single_prompt_images(tiny_pipe):
    batch = run(tiny_pipe, ["a red circle", "two blue squares"], num_images_per_prompt=2,
                generator=[torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
    alone = run(tiny_pipe, "two blue squares", num_images_per_prompt=2, generator=[torch.Generator().manual_seed(6)])
    assert batch.shape[0] == 4
    np.testing.assert_allclose(batch[2:], alone, atol=2 / 255)


def test_editing_batches_with_several_images_per_prompt(tiny_pipe):
    red, blue = Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (30, 50), (0, 0, 255))
    out = run(tiny_pipe, ["make it green", "make it round"], image=[red, [blue, red]], num_images_per_prompt=2,
              generator=[torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])
    assert out.shape[0] == 4
    alone = run(tiny_pipe, "make it round", image=[[blue, red]], num_images_per_prompt=2, generator=[torch.Generator().manual_seed(2)])
    np.testing.assert_allclose(out[2:], alone, atol=2 / 255)


def test_editing_rows_follow_the_published_order(tiny_pipe):
    img = Image.new("RGB", (40, 30), (10, 200, 30))
    captions, images, groups = tiny_pipe.cfg_rows(["make it blue"], [""], [[img]], 4.5, 1.5)
    assert groups == 3 and captions == ["", "", "make it blue"]
    assert np.asarray(images[0][0]).max() == 0 and images[0][0].size == img.size
    assert images[1][0] is img and images[2][0] is img
    assert tiny_pipe.cfg_rows(["x"], [""], [[]], 4.5, 1.5)[2] == 2
    assert tiny_pipe.cfg_rows(["x"], [""], [[]], 1.0, 1.5)[2] == 1


def test_empty_prompt_is_unconditional_generation(tiny_pipe):
    assert run(tiny_pipe, "").shape[0] == 1


def test_long_prompt_is_truncated_with_a_warning(tiny_pipe, caplog):
    long = "a red circle above a blue square " * 200
    with caplog.at_level(logging.WARNING):
        text = tiny_pipe.processor.truncate(long)
    assert "truncated to 256" in caplog.text
    assert len(tiny_pipe.processor.tokenizer(text, add_special_tokens=False)["input_ids"]) <= 256
    assert run(tiny_pipe, long).shape[0] == 1


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_inference_steps=0), "num_inference_steps"),
    (dict(guidance_scale=-1.0), "guidance scales must be >= 0"),
    (dict(image_guidance_scale=-0.5), "guidance scales must be >= 0"),
    (dict(num_images_per_prompt=1000), "num_images_per_prompt"),
    (dict(height=30), "multiples of"),
])
def test_out_of_range_arguments(tiny_pipe, kwargs, match):
    with pytest.raises(InputError, match=match):
        run(tiny_pipe, **kwargs)


def test_bad_prompt_types(tiny_pipe):
    with pytest.raises(InputError, match="prompt must be"):
        run(tiny_pipe, prompt=[])
    with pytest.raises(InputError, match="prompt must be"):
        run(tiny_pipe, prompt=3)
    with pytest.raises(InputError, match="image entries"):
        run(tiny_pipe, ["a", "b"], image=[Image.new("RGB", (8, 8))] * 3)


def png_bytes(img: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_missing_and_unreadable_image_files(tmp_path, tiny_pipe):
    with pytest.raises(ImageInputError, match="not found"):
        run(tiny_pipe, "x", image=str(tmp_path / "nope.png"))
    (tmp_path / "notes.png").write_text("this is text, not an image")
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(tmp_path / "notes.png")
    data = png_bytes(Image.new("RGB", (64, 64), (1, 2, 3)))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.png")
    with pytest.raises(ImageInputError, match="not a file"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused():
    bomb = png_bytes(Image.new("1", (20000, 20000)))  # tiny file, 400 megapixels
    with pytest.raises(ImageInputError, match="decompression bomb"):
        load_image(bomb)


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK", "I;16", "LA"])
def test_image_modes_are_converted_to_rgb(mode):
    img = Image.new(mode, (10, 8))
    out = load_image(png_bytes(img, "TIFF" if mode in ("CMYK", "I;16") else "PNG"))
    assert out.mode == "RGB" and out.size == (10, 8)


def test_sixteen_bit_values_scale_to_eight_bits():
    arr = np.full((4, 4), 65535, dtype=np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I;16")
    assert np.asarray(load_image(img)).min() == 255


def test_transparent_pixels_become_white():
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(load_image(img))[0, 0].tolist() == [255, 255, 255]


def test_understand_validates_its_arguments(tiny_pipe):
    with pytest.raises(InputError, match="question"):
        tiny_pipe.understand(Image.new("RGB", (28, 28)), "  ")
    with pytest.raises(InputError, match="max_new_tokens"):
        tiny_pipe.understand(Image.new("RGB", (28, 28)), "what?", max_new_tokens=0)
    answer = tiny_pipe.understand([Image.new("RGB", (28, 28)), Image.new("RGB", (56, 28))], "compare", max_new_tokens=3)
    assert isinstance(answer, str)


def test_callback_on_step_end_sees_every_step(tiny_pipe):
    seen = []

    def callback(pipe, i, t, kwargs):
        seen.append((i, int(t), tuple(kwargs["latents"].shape)))
        return kwargs

    run(tiny_pipe, num_inference_steps=3, callback_on_step_end=callback)
    assert [s[0] for s in seen] == [0, 1, 2]
    assert seen[0][1] > seen[-1][1]


@pytest.mark.parametrize("sampler", ["dpm", "euler"])
def test_callback_tensor_inputs_give_the_clean_estimate(tiny_pipe, sampler):
    """denoised = x_t - sigma_t * v: far from the latents early, equal to them after the last step."""
    from uniimage.pipelines.schedulers import load_sampler

    kept = tiny_pipe.scheduler
    tiny_pipe.scheduler = load_sampler(tiny_pipe.sources.scheduler_dir, sampler)
    gaps, names = [], []

    def callback(pipe, i, t, kwargs):
        names.append(sorted(kwargs))
        gaps.append((kwargs["denoised"] - kwargs["latents"]).abs().max().item())
        assert kwargs["velocity"].shape == kwargs["latents"].shape
        return {"latents": kwargs["latents"]}

    try:
        final = run(tiny_pipe, num_inference_steps=4, output_type="latent", callback_on_step_end=callback,
                    callback_on_step_end_tensor_inputs=["latents", "velocity", "denoised"],
                    generator=torch.Generator().manual_seed(0))
        plain = run(tiny_pipe, num_inference_steps=4, output_type="latent", generator=torch.Generator().manual_seed(0))
    finally:
        tiny_pipe.scheduler = kept
    assert names[0] == ["denoised", "latents", "velocity"]
    assert gaps[0] > 0.1 and gaps[-1] < 1e-5
    assert torch.equal(final, plain)  # asking for tensors changes nothing


def test_callback_tensor_inputs_unknown_name_is_refused(tiny_pipe):
    with pytest.raises(InputError, match="callback_on_step_end_tensor_inputs.*pred_original_sample"):
        run(tiny_pipe, callback_on_step_end=lambda *a: {}, callback_on_step_end_tensor_inputs=["pred_original_sample"])
