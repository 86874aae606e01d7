"""The vision tower runs once per distinct input image, not once per CFG row."""

import torch

from bench_helpers import fresh_pipe, generate, source_image  # noqa: F401 (fixtures)


def count_visual_images(pipe):
    """Images the vision tower sees (grid rows), per forward call."""
    calls = []
    hook = pipe.model.mllm.model.visual.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(int((kwargs.get("grid_thw") if "grid_thw" in kwargs else args[1]).shape[0])),
        with_kwargs=True)
    return calls, hook


def test_editing_call_runs_vision_once_per_distinct_image(fresh_pipe, source_image):
    calls, hook = count_visual_images(fresh_pipe)
    try:
        # Two prompts editing the same image with image CFG: 6 rows, 6 image slots, 2 distinct images
        # (the black stand-in and the source).
        generate(fresh_pipe, ["make it red", "make it blue"], image=source_image)
        assert calls == [2]
        generate(fresh_pipe, ["make it green", "make it gold"], image=source_image)
        assert calls == [2, 1]  # negatives cached: only the source image, once, for both prompt rows
    finally:
        hook.remove()


def test_shared_features_give_the_plain_condition(fresh_pipe, source_image):
    pipe = fresh_pipe
    black = source_image.point(lambda _: 0)
    captions, images = ["", "", "make it red"], [[black], [source_image], [source_image]]
    ours, ours_mask = pipe.encode_prompt(captions, images)
    inputs = pipe.processor.generation_inputs(captions, images)
    plain, plain_mask = pipe.model.encode_condition(inputs.input_ids, inputs.attention_mask, inputs.pixel_values,
                                                    inputs.image_grid_thw)
    torch.testing.assert_close(ours, plain, atol=1e-5, rtol=0)
    assert torch.equal(ours_mask, plain_mask)
    ids, mask = pipe.processor.tokens(pipe.processor.generation_texts(captions, images), inputs.image_grid_thw)
    assert torch.equal(ids, inputs.input_ids) and torch.equal(mask, inputs.attention_mask)
