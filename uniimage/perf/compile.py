"""`pipe.compile()`: the DiT's repeated block and the VAE decoder through torch.compile, batch sizes bucketed.

    DiT   regional compilation (diffusers' `compile_repeated_blocks`): the SANA block is compiled once
          and that code serves all its instances, so warm-up is one block's compile, not the whole model's
    VAE   the decoder compiled whole (it runs once a call)
    MLLM  left eager: one prefill of a prompt-dependent length a call
    batch padded up to a bucket (perf/buckets.py), so a new batch size inside a bucket never recompiles

mode "default" works on CPU (inductor's C++ backend) and GPU; "reduce-overhead" (and "max-autotune")
add CUDA graphs, which need the pipeline on a CUDA device. `fp8=True` swaps the DiT's linears to float8
first (perf/fp8.py; torchao, Ada/Hopper GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import InputError
from .buckets import DEFAULT_BUCKETS, check_buckets
from .fp8 import check_fp8, quantize_dit_fp8

MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class CompileOptions:
    mode: str = "default"
    regional: bool = True  # the repeated SANA block (False: the whole DiT forward as one graph)
    vae: bool = True  # compile the VAE decoder too
    buckets: tuple[int, ...] | None = DEFAULT_BUCKETS  # None: every batch size its own graph
    fp8: bool = False
    backend: str | Callable = "inductor"  # tests pass a counting backend; anything torch.compile takes
    fullgraph: bool = True  # a graph break inside the block is a bug here, not a slowdown to live with
    extra: dict = field(default_factory=dict)  # further torch.compile keywords (e.g. options={...})

    @property
    def cuda_graphs(self) -> bool:
        return self.mode in CUDA_GRAPH_MODES and self.backend == "inductor"


def check_options(options: CompileOptions, device: torch.device, offload: str | None) -> None:
    """Every reason the options cannot run on this pipeline, before anything is changed."""
    if options.mode not in MODES:
        raise InputError(f"compile mode must be one of {', '.join(MODES)}, got {options.mode!r}")
    if options.mode in CUDA_GRAPH_MODES and device.type != "cuda":
        raise InputError(f"compile mode {options.mode!r} captures CUDA graphs, but the pipeline is on "
                         f"{device.type}: use mode 'default' there")
    if offload is not None:
        raise InputError(f"compile does not combine with {offload} CPU offload (its hooks move weights at every "
                         "call): remove the offload, or run without compile")
    check_buckets(options.buckets)
    if options.fp8:
        check_fp8(device)


def compile_kwargs(options: CompileOptions) -> dict:
    kwargs = dict(backend=options.backend, fullgraph=options.fullgraph, dynamic=False, **options.extra)
    if options.backend == "inductor":
        kwargs["mode"] = options.mode
    return kwargs


def compile_pipeline(pipe, options: CompileOptions) -> None:
    """Compile `pipe` in place for `options` (see the module doc). Once per pipeline."""
    if getattr(pipe, "compile_options", None) is not None:
        raise InputError(f"this pipeline is already compiled ({pipe.compile_options.mode}); load a fresh one to "
                         "compile with other options")
    device = pipe._execution_device
    check_options(options, device, pipe.offload)
    if options.fp8:
        quantize_dit_fp8(pipe.transformer)
    kwargs = compile_kwargs(options)
    if options.regional:
        pipe.transformer.compile_repeated_blocks(**kwargs)
    else:
        pipe.transformer.compile(**kwargs)
    if options.vae:
        pipe.vae.decoder.compile(**kwargs)
    pipe.batch_buckets = check_buckets(options.buckets)
    pipe.compile_options = options


def uncompile_pipeline(pipe) -> None:
    """Back to eager modules (fp8 weights stay fp8): drops the compiled wrappers and dynamo's caches."""
    for module in [*pipe.transformer.modules(), *pipe.vae.decoder.modules()]:
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None
    torch._dynamo.reset()
    pipe.batch_buckets = None
    pipe.compile_options = None
