"""8-bit / 4-bit MLLM through bitsandbytes (the `quant` extra): the MLLM is most of the weights and
only makes the condition once per call, so it is the part worth squeezing.

Every nn.Linear of the MLLM (text layers and vision tower) becomes a bitsandbytes layer; embeddings,
the tied LM head, norms and the connector stay in the model dtype. bitsandbytes quantizes when the
weights reach a CUDA device, so this needs one.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UniImageError

MODES = ("8bit", "4bit")


class QuantizationError(UniImageError):
    """Quantization asked for where it cannot run (no bitsandbytes, no CUDA, unknown mode)."""


def _bitsandbytes():
    try:
        import bitsandbytes
    except ImportError as e:
        raise QuantizationError("8-bit/4-bit MLLM needs bitsandbytes: pip install 'uniimage[quant]'") from e
    return bitsandbytes


def check_quantization(mode: str, device) -> None:
    """Clear errors before touching any weight."""
    if mode not in MODES:
        raise QuantizationError(f"mllm_quantization must be one of {MODES}, got {mode!r}")
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        raise QuantizationError(f"8-bit/4-bit MLLM (bitsandbytes) needs a CUDA device, got {device}")
    _bitsandbytes()


def _quantized_linear(linear: nn.Linear, mode: str, compute_dtype: torch.dtype):
    bnb = _bitsandbytes()
    weight = linear.weight.data.to("cpu")
    if mode == "8bit":
        # has_fp16_weights=False: int8 weights only; threshold 6 keeps outlier features in 16 bit (LLM.int8()).
        new = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                  has_fp16_weights=False, threshold=6.0)
        new.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
    else:
        new = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                compute_dtype=compute_dtype, quant_type="nf4")
        new.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
    if linear.bias is not None:
        new.bias = nn.Parameter(linear.bias.data.to("cpu"), requires_grad=False)
    return new


def quantize_linears(root: nn.Module, mode: str, device, compute_dtype: torch.dtype, skip: tuple[str, ...] = ("lm_head",)) -> int:
    """Swap every nn.Linear under `root` (except names in `skip`) for a bitsandbytes one on `device`.
    Returns how many were swapped."""
    check_quantization(mode, device)
    targets = [(name, m) for name, m in root.named_modules()
               if type(m) is nn.Linear and name.split(".")[-1] not in skip]
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        parent = root.get_submodule(parent_name) if parent_name else root
        setattr(parent, child, _quantized_linear(linear, mode, compute_dtype).to(device))  # .to(cuda) quantizes
    root.to(device)  # the rest (embeddings, norms) joins them
    return len(targets)
