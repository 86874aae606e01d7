"""Frozen weights stored in a low-precision dtype, computed in float32 one layer at a time.

`frozen_dtype: bfloat16` with `precision: no` (float32 compute, no autocast): each frozen Linear / Conv
layer keeps its weights in bf16 and is upcast to float32 for its own forward only, then back
(diffusers' layerwise casting hook). Half the frozen memory, float32 arithmetic: for a machine without
fast bf16 matmuls (most CPUs), where bf16 autocast is emulated and slow.

What stays float32: every trainable weight (and so its gradient and optimizer state), any layer that
holds one (the query embedding holds the query rows), the vocabulary embedding and the LM head tied to
it (the frozen vocabulary rows stay the originals, bit for bit), and the small layers diffusers leaves
out by default (norms, patch / position embeddings).

Why gradient checkpointing is required: autograd keeps each layer's float32 copy of its weights for the
backward pass, so without recomputation all the upcast copies of the layers on the gradient path (the
MLLM's, up to the query rows) would be alive at once, more than float32 storage. Checkpointed, a layer's
copy lives only while that layer runs or recomputes. Recomputation must run each layer to its end
(`early_stop=False`): checkpoint's early stop skips the hook that casts the layer back to storage.
"""

from __future__ import annotations

import re

import torch
from accelerate.utils import DistributedType
from diffusers.hooks import apply_layerwise_casting
from diffusers.hooks._common import _GO_LC_SUPPORTED_PYTORCH_LAYERS
from diffusers.hooks.layerwise_casting import DEFAULT_SKIP_MODULES_PATTERN
from torch import nn

from ..errors import ConfigError

# The vocabulary matrix (input embedding) and the LM head that may share it: never rounded.
VOCABULARY = ("embed_tokens", "lm_head")


def uses_layerwise_casting(frozen_dtype: torch.dtype, mixed_precision: str) -> bool:
    """Frozen weights below float32 with float32 compute (no autocast): store low, upcast per layer."""
    return frozen_dtype != torch.float32 and mixed_precision == "no"


def check_layerwise_casting(gradient_checkpointing: bool, world: int, distributed_type: DistributedType,
                            frozen_dtype: str) -> None:
    """What storing frozen weights in `frozen_dtype` with float32 compute cannot do (before the model is built)."""
    what = f"frozen_dtype: {frozen_dtype} with precision: no (stored in {frozen_dtype}, computed in float32 layer by layer)"
    if not gradient_checkpointing:
        raise ConfigError(f"{what} needs gradient_checkpointing: true: without it the backward pass keeps every "
                          "layer's float32 copy alive, more memory than float32 storage; set gradient_checkpointing: "
                          "true, or frozen_dtype: float32, or precision: bf16 (bf16 autocast)")
    if world > 1 or distributed_type != DistributedType.NO:
        raise ConfigError(f"{what} runs in one process only (it is not tested with DDP, FSDP or DeepSpeed; this "
                          f"launch has {world} process(es), {distributed_type.value}); use precision: bf16 with "
                          "frozen_dtype: bfloat16 across processes")


def frozen_skip_patterns(model: nn.Module) -> tuple[str, ...]:
    """Skip patterns for diffusers' `apply_layerwise_casting` over `model`: its defaults, the vocabulary, and
    every module that holds a trainable parameter (a whole trainable subtree by its own name)."""
    return tuple(DEFAULT_SKIP_MODULES_PATTERN) + VOCABULARY + tuple(f"^{re.escape(n)}$" for n in _trainable_roots(model, ""))


def _trainable_roots(module: nn.Module, prefix: str) -> list[str]:
    params = list(module.parameters())
    trainable = [p.requires_grad for p in params]
    if not any(trainable):
        return []  # all frozen (or no weights): cast what diffusers supports below here
    if all(trainable) or isinstance(module, _GO_LC_SUPPORTED_PYTORCH_LAYERS):
        return [prefix]  # trainable, or a castable layer holding a trainable weight: left as it is
    found = []
    for name, child in module.named_children():
        found += _trainable_roots(child, f"{prefix}.{name}" if prefix else name)
    return found


def store_frozen(model: nn.Module, storage_dtype: torch.dtype, compute_dtype: torch.dtype = torch.float32) -> int:
    """Frozen layers of `model` stored in `storage_dtype`, run in `compute_dtype`; returns how many layers."""
    apply_layerwise_casting(model, storage_dtype, compute_dtype, skip_modules_pattern=frozen_skip_patterns(model))
    return sum(1 for m in model.modules() if getattr(m, "_diffusers_hook", None) is not None
               and m._diffusers_hook.get_hook("layerwise_casting") is not None)
