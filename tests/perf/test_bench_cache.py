"""The unconditional (negative-prompt) condition cache: hits, misses, and invalidation."""

import torch

from bench_helpers import fresh_pipe, generate, source_image  # noqa: F401 (fixtures)


def rows_encoded(pipe):
    """Spy on the MLLM: how many rows each encode_condition call runs."""
    counts = []
    original = pipe.model.encode_condition

    def spy(input_ids, *args, **kwargs):
        counts.append(input_ids.shape[0])
        return original(input_ids, *args, **kwargs)

    pipe.model.encode_condition = spy
    return counts


def test_second_call_reuses_the_negative_condition(fresh_pipe):
    counts = rows_encoded(fresh_pipe)
    first = generate(fresh_pipe, ["a cube", "a ball", "a cone"])
    assert counts == [4]  # three prompts + ONE negative row (identical negative rows are computed once)
    cache = fresh_pipe.condition_cache
    assert len(cache) == 1 and cache.misses == 1 and cache.hits == 0
    second = generate(fresh_pipe, ["a cube", "a ball", "a cone"])
    assert counts == [4, 3]  # only the prompts now
    assert cache.hits == 1
    torch.testing.assert_close(first, second, atol=1e-5, rtol=0)


def test_cached_condition_equals_a_fresh_one(fresh_pipe):
    generate(fresh_pipe, "warm the cache")
    cached = generate(fresh_pipe, "a red cube")
    fresh_pipe.condition_cache.enabled = False
    uncached = generate(fresh_pipe, "a red cube")
    torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=0)


def test_key_is_the_negative_prompt_and_the_images(fresh_pipe, source_image):
    counts = rows_encoded(fresh_pipe)
    generate(fresh_pipe, "a cube", negative_prompt="blurry")
    generate(fresh_pipe, "a cube", negative_prompt="dark")  # another negative: a miss
    assert counts == [2, 2]
    generate(fresh_pipe, "a cube", negative_prompt="blurry")
    assert counts[-1] == 1
    # Editing: negative + black image (keyed by size) and negative + the real image are both cached.
    generate(fresh_pipe, "make it red", image=source_image)
    assert counts[-1] == 3
    generate(fresh_pipe, "make it blue", image=source_image.copy())  # equal pixels, another object: hit
    assert counts[-1] == 1
    generate(fresh_pipe, "make it red", image=source_image.resize((48, 32)))  # new size: both negatives miss
    assert counts[-1] == 3


def test_weight_change_invalidates(fresh_pipe):
    counts = rows_encoded(fresh_pipe)
    before = generate(fresh_pipe, "a cube")
    with torch.no_grad():
        fresh_pipe.model.connector[0].bias.add_(0.5)  # an in-place edit, as an optimizer step would make
    after = generate(fresh_pipe, "a cube")
    assert counts == [2, 2]
    assert not torch.allclose(before, after)
    state = {k: v.clone() for k, v in fresh_pipe.model.mllm.state_dict().items()}
    fresh_pipe.model.mllm.load_state_dict(state)
    generate(fresh_pipe, "a cube")
    assert counts[-1] == 2


def test_to_another_dtype_invalidates_and_a_no_op_to_keeps(fresh_pipe):
    # diffusers' model offload calls .to("cpu") after every call: that must not empty the cache.
    generate(fresh_pipe, "a cube")
    fresh_pipe.to("cpu")
    counts = rows_encoded(fresh_pipe)
    generate(fresh_pipe, "a cube")
    assert counts == [1]  # the negative row came from the cache
    fresh_pipe.to(torch.bfloat16)
    counts = rows_encoded(fresh_pipe)
    generate(fresh_pipe, "a cube")
    assert counts == [2]


def test_swapped_module_invalidates(fresh_pipe):
    import copy

    generate(fresh_pipe, "a cube")
    fresh_pipe.model.connector = copy.deepcopy(fresh_pipe.model.connector)  # not through the pipeline: still noticed
    counts = rows_encoded(fresh_pipe)
    generate(fresh_pipe, "a cube")
    assert counts == [2]
