"""The naive reference and the pipeline give the same images from the same weights."""

import torch

from uniimage.perf import naive_generate
from bench_helpers import fresh_pipe, generate, source_image  # noqa: F401 (fixtures)


def test_naive_baseline_matches_pipeline_text_to_image(tiny_pipe):
    prompts = ["a red cube", "two blue spheres on grass"]
    ours = tiny_pipe(prompts, num_inference_steps=2, generator=torch.Generator().manual_seed(1),
                     output_type="pt", progress=False).images
    timings = {}
    naive = naive_generate(tiny_pipe, prompts, num_inference_steps=2, generator=torch.Generator().manual_seed(1), timings=timings)
    assert naive.shape == ours.shape
    torch.testing.assert_close(naive, ours, atol=1e-4, rtol=0)
    assert timings["mllm"] > 0 and timings["dit"] > 0 and timings["vae"] > 0


def test_naive_baseline_matches_pipeline_editing(tiny_pipe, source_image):
    ours = generate(tiny_pipe, "make it red", image=source_image, num_inference_steps=1)
    naive = naive_generate(tiny_pipe, ["make it red"], image=source_image, num_inference_steps=1,
                           generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(naive, ours, atol=1e-4, rtol=0)


def test_naive_condition_runs_mllm_to_the_final_layer(tiny_pipe):
    """The baseline really is the expensive path: every text layer and the final norm run."""
    from uniimage.perf.baseline import naive_condition

    seen = []
    handle = tiny_pipe.model.text_model.norm.register_forward_hook(lambda *a: seen.append(1))
    try:
        naive_condition(tiny_pipe, "a red cube", [])
        tiny_pipe.encode_prompt(["a red cube"], [[]])
    finally:
        handle.remove()
    assert seen == [1]  # the baseline's pass reached the final norm; the pipeline's stopped before it
