"""`pipe.compile()`: regional DiT + VAE compilation, batch buckets, fp8 refusal, and a loop without host reads."""

import pytest
import torch
from torch._dynamo.testing import CompileCounter
from torch.utils._python_dispatch import TorchDispatchMode

from bench_helpers import fresh_pipe, generate  # noqa: F401  (fixture)
from uniimage.errors import InputError
from uniimage.perf.buckets import bucket_size, check_buckets, pad_groups
from uniimage.perf.fp8 import fp8_eligible, fp8_problems


def test_bucket_sizes():
    buckets = (1, 2, 4, 8, 16)
    assert [bucket_size(b, buckets) for b in (1, 2, 3, 4, 5, 9, 16, 17, 40)] == [1, 2, 4, 4, 8, 16, 16, 32, 48]
    assert bucket_size(3, None) == 3


@pytest.mark.parametrize("buckets,message", [((0, 2), "positive"), ((4, 2), "strictly increasing"),
                                             ((1, 1), "strictly increasing"), ((), "positive"), (3, "sequence"),
                                             ((1.5,), "positive")])
def test_bad_buckets_are_named(buckets, message):
    with pytest.raises(InputError, match=message):
        check_buckets(buckets)


def test_pad_groups_pads_each_cfg_group():
    x = torch.tensor([10, 11, 12, 20, 21, 22])  # two groups of three rows, group-major
    assert pad_groups(x, 2, 4).tolist() == [10, 11, 12, 12, 20, 21, 22, 22]
    assert pad_groups(x, 1, 6).tolist() == x.tolist()


def test_bucketed_call_gives_the_exact_batch_images(fresh_pipe):
    prompts = ["a red cube", "two cats", "a boat"]
    exact = generate(fresh_pipe, prompts, num_inference_steps=2)
    seen = []

    def callback(pipe, i, t, kwargs):  # what the server's callback does: looks at, and hands back, latents
        seen.append((kwargs["latents"].shape[0], kwargs["denoised"].shape[0]))
        return {"latents": kwargs["latents"].clone()}

    fresh_pipe.batch_buckets = (4, 8)
    padded = generate(fresh_pipe, prompts, num_inference_steps=2, callback_on_step_end=callback,
                      callback_on_step_end_tensor_inputs=["latents", "denoised"])
    assert padded.shape == exact.shape == (3, 3, 32, 32)
    torch.testing.assert_close(padded, exact, atol=1e-5, rtol=0)
    assert seen == [(3, 3), (3, 3)]  # the callback never sees the padding rows


def test_compiled_dit_and_vae_reuse_one_graph_per_bucket(fresh_pipe):
    one, three, four = ["a red cube"], ["a", "b c", "d"], ["a", "b c", "d", "e f"]
    eager = [generate(fresh_pipe, p, num_inference_steps=2) for p in (one, three, four)]
    counter = CompileCounter()
    fresh_pipe.compile(backend=counter, buckets=(1, 2, 4))
    torch.testing.assert_close(generate(fresh_pipe, one, num_inference_steps=2), eager[0], atol=1e-5, rtol=0)
    assert counter.frame_count == 2  # one SANA block graph serving all 4 blocks, one VAE decoder graph
    torch.testing.assert_close(generate(fresh_pipe, three, num_inference_steps=2), eager[1], atol=1e-5, rtol=0)
    assert counter.frame_count == 4  # bucket 4: block and decoder once more
    torch.testing.assert_close(generate(fresh_pipe, four, num_inference_steps=2), eager[2], atol=1e-5, rtol=0)
    assert counter.frame_count == 4  # batch 4 is in bucket 4: nothing recompiles


def test_inductor_compiled_images_equal_eager(fresh_pipe):
    """The real backend (C++ codegen on this CPU), not just the wiring."""
    eager = generate(fresh_pipe, ["a red cube", "two cats"], num_inference_steps=2)
    fresh_pipe.compile()
    compiled = generate(fresh_pipe, ["a red cube", "two cats"], num_inference_steps=2)
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mode="fast"), "compile mode must be one of"),
    (dict(mode="reduce-overhead"), "captures CUDA graphs, but the pipeline is on cpu"),
    (dict(buckets=(8, 4)), "strictly increasing"),
    (dict(fp8=True), "fp8 cannot run here: .*the DiT is on cpu"),
])
def test_bad_compile_options_fail_before_changing_anything(fresh_pipe, kwargs, message):
    with pytest.raises(InputError, match=message):
        fresh_pipe.compile(**kwargs)
    assert fresh_pipe.compile_options is None and fresh_pipe.batch_buckets is None
    assert not hasattr(fresh_pipe.transformer.transformer_blocks[0], "_compiled_call_impl") or \
        fresh_pipe.transformer.transformer_blocks[0]._compiled_call_impl is None


def test_compile_twice_and_with_offload_are_refused(fresh_pipe):
    fresh_pipe.enable_model_cpu_offload(device="cpu")
    with pytest.raises(InputError, match="does not combine with model CPU offload"):
        fresh_pipe.compile(backend="eager")
    fresh_pipe.remove_offload()
    fresh_pipe.compile(backend="eager")
    with pytest.raises(InputError, match="already compiled"):
        fresh_pipe.compile(backend="eager")


def test_fp8_reasons():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert fp8_problems(gpu, True, (9, 0)) == [] and fp8_problems(gpu, True, (8, 9)) == []
    assert fp8_problems(gpu, True, (8, 0)) == ["this GPU has compute capability 8.0; fp8 matmuls need >= 8.9 (Ada, Hopper)"]
    both = fp8_problems(cpu, False, None)
    assert len(both) == 2 and "torchao is not installed" in both[0] and "the DiT is on cpu" in both[1]


def test_fp8_takes_the_block_linears_only(fresh_pipe):
    names = [n for n, m in fresh_pipe.transformer.named_modules() if fp8_eligible(m, n)]
    assert names and all(n.startswith("transformer_blocks.") for n in names)
    linears = [n for n, m in fresh_pipe.transformer.named_modules() if isinstance(m, torch.nn.Linear)]
    assert {"proj_out", "time_embed.linear", "caption_projection.linear_1"} <= set(linears)  # these stay bf16
    assert "transformer_blocks.0.attn1.to_q" in names and "transformer_blocks.0.attn2.to_out.0" in names


class ScalarReads(TorchDispatchMode):
    """Counts tensor -> Python number reads (`.item()`, `bool(t)`, `int(t)`): each is a host sync on a GPU."""

    def __init__(self):
        super().__init__()
        self.armed, self.reads = False, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.armed and func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("sampler", ["dpm", "euler"])
def test_denoising_loop_reads_no_device_scalar(fresh_pipe, sampler):
    """Between the scheduler's set-up and the VAE decode, nothing reads a tensor's value on the host."""
    from uniimage.pipelines.schedulers import load_sampler

    fresh_pipe.scheduler = load_sampler(fresh_pipe.sources.scheduler_dir, sampler)
    mode = ScalarReads()
    set_timesteps, decode = fresh_pipe.scheduler.set_timesteps, fresh_pipe.decode_latents

    def arm(*args, **kwargs):
        out = set_timesteps(*args, **kwargs)
        mode.armed = True
        return out

    def disarm(*args, **kwargs):
        mode.armed = False
        return decode(*args, **kwargs)

    fresh_pipe.scheduler.set_timesteps, fresh_pipe.decode_latents = arm, disarm
    fresh_pipe.batch_buckets = (4,)
    with mode:
        generate(fresh_pipe, ["a cube", "a ball"], num_inference_steps=4,
                 callback_on_step_end=lambda pipe, i, t, kw: {}, callback_on_step_end_tensor_inputs=["denoised"])
    assert mode.reads == 0


def test_force_eager_stance_and_uncompile_run_the_modules_uncompiled(fresh_pipe):
    counter = CompileCounter()
    fresh_pipe.compile(backend=counter)
    with torch.compiler.set_stance("force_eager"):  # what benchmarks/cpu_compile.py's eager calls use
        generate(fresh_pipe, "a cube")
    assert counter.frame_count == 0
    generate(fresh_pipe, "a cube")
    assert counter.frame_count == 2
    fresh_pipe.uncompile()
    assert fresh_pipe.compile_options is None and fresh_pipe.batch_buckets is None
    generate(fresh_pipe, ["a", "b", "c"])
    assert counter.frame_count == 2
