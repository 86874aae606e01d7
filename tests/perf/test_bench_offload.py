"""CPU offload through diffusers' own enable_model_cpu_offload / enable_sequential_cpu_offload, with the
CPU as the execution device (no GPU here: what moves is checked by the hooks, not by memory)."""

import pytest
import torch
from accelerate.hooks import CpuOffload

from bench_helpers import fresh_pipe, generate, source_image  # noqa: F401 (fixtures)


def hooked(module) -> bool:
    return hasattr(module, "_hf_hook")


def test_model_offload_without_an_accelerator_says_so(fresh_pipe):
    if torch.cuda.is_available():
        pytest.skip("an accelerator is present")
    with pytest.raises(RuntimeError, match="requires accelerator"):
        fresh_pipe.enable_model_cpu_offload()
    assert fresh_pipe.offload is None


def test_model_offload_chain_follows_the_sequence_and_gives_the_same_image(fresh_pipe, source_image):
    pipe = fresh_pipe
    plain = generate(pipe, "a cube")
    plain_edit = generate(pipe, "make it red", image=source_image)
    pipe.enable_model_cpu_offload(device="cpu")
    assert pipe.model_cpu_offload_seq == "mllm->connector->transformer->vae"
    hooks = [getattr(pipe, name)._hf_hook for name in ("mllm", "connector", "transformer", "vae")]
    assert all(isinstance(h, CpuOffload) for h in hooks)
    # Each model's hook sends the one before it back to the CPU when it starts.
    assert hooks[0].prev_module_hook is None
    assert [h.prev_module_hook.model for h in hooks[1:]] == [pipe.mllm, pipe.connector, pipe.transformer]
    assert pipe.offload == "model" and pipe._execution_device == torch.device("cpu", 0)
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(generate(pipe, "make it red", image=source_image), plain_edit, atol=1e-5, rtol=0)
    hits = pipe.condition_cache.hits
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)
    assert pipe.condition_cache.hits == hits + 1  # the negative row survives the hooks re-armed after each call
    pipe.remove_offload()
    assert pipe.offload is None and not any(hooked(getattr(pipe, n)) for n in ("mllm", "transformer", "vae"))
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)


def test_model_offload_moves_the_mllm_for_the_readout(fresh_pipe):
    """The ladder readout calls the MLLM's parts, not its forward: it runs the MLLM hook itself."""
    pipe = fresh_pipe
    pipe.enable_model_cpu_offload(device="cpu")
    calls = []
    hook = pipe.mllm._hf_hook
    original = hook.pre_forward
    hook.pre_forward = lambda module, *a, **k: (calls.append(module), original(module, *a, **k))[1]
    generate(pipe, "a cube")
    assert calls and calls[0] is pipe.mllm


def test_understanding_works_under_model_offload(fresh_pipe, source_image):
    pipe = fresh_pipe
    plain = pipe.understand(source_image, "what is it?", max_new_tokens=4)
    pipe.enable_model_cpu_offload(device="cpu")
    assert pipe.understand(source_image, "what is it?", max_new_tokens=4) == plain


def test_sequential_offload_streams_weights_and_restores_them(fresh_pipe):
    pipe = fresh_pipe
    plain = generate(pipe, "a cube")
    pipe.enable_sequential_cpu_offload(device="cpu")
    assert pipe.offload == "sequential"
    # diffusers names the device "cpu:0"; accelerate then swaps CPU Parameters for plain tensors on the
    # first forward (Parameter.to("cpu:0") copies) and fails on the next. On CUDA ("cuda:0") that cannot
    # happen, so here the hooks get the index-free name: what is tested is our code under the hooks.
    for module in pipe.model.modules():
        hook = getattr(module, "_hf_hook", None)
        for h in getattr(hook, "hooks", [hook]):
            if getattr(h, "execution_device", None) is not None:
                h.execution_device = torch.device("cpu")
    # Weights live in the hooks' CPU copy; the modules hold meta placeholders between forwards.
    assert pipe.transformer.transformer_blocks[0].attn1.to_q.weight.device.type == "meta"
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)  # cached negative under hooks
    assert pipe.condition_cache.hits >= 1
    pipe.remove_offload()
    assert all(p.device.type == "cpu" for p in pipe.model.parameters())
    torch.testing.assert_close(generate(pipe, "a cube"), plain, atol=1e-5, rtol=0)


def test_compile_transformer_same_image(fresh_pipe):
    plain = generate(fresh_pipe, "a cube", num_inference_steps=1)
    fresh_pipe.compile_transformer(backend="eager")  # the wiring; inductor codegen is the GPU script's job
    torch.testing.assert_close(generate(fresh_pipe, "a cube", num_inference_steps=1), plain, atol=1e-5, rtol=0)
