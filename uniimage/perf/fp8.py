"""fp8 for the DiT's linear layers through torchao's float8 (dynamic per-row scales for activations and
weights): Hopper/Ada tensor cores run fp8 matmuls at twice the bf16 rate. Optional (`uniimage[fp8]`);
everywhere else it fails with the reasons, never silently runs in another precision.

Only the linears inside the DiT's blocks (attention projections): they run steps x CFG rows times a
call. The time embedding, caption projection, patch embedding and output projection stay in bf16 (small,
and the first/last layers are the most sensitive), as does any linear whose sizes are not multiples of
16, which `torch._scaled_mm` cannot take. SANA's feed-forward (GLUMBConv) is 1x1 convolutions, which
torchao's float8 does not take: most of the block's FLOPs stay bf16 (see docs/performance.md).
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from ..errors import InputError

MIN_CAPABILITY = (8, 9)  # Ada (sm_89) and Hopper (sm_90) have fp8 tensor cores
BLOCKS = "transformer_blocks."


def fp8_problems(device: torch.device, has_torchao: bool, capability: tuple[int, int] | None) -> list[str]:
    """Why fp8 cannot run here (empty: it can). `capability` is the CUDA device's (major, minor)."""
    problems = []
    if not has_torchao:
        problems.append("torchao is not installed (pip install 'uniimage[fp8]')")
    if device.type != "cuda":
        problems.append(f"the DiT is on {device.type}, and fp8 matmuls need an NVIDIA GPU of compute capability "
                        f">= {MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]} (Ada, Hopper)")
    elif capability is not None and tuple(capability) < MIN_CAPABILITY:
        problems.append(f"this GPU has compute capability {capability[0]}.{capability[1]}; fp8 matmuls need "
                        f">= {MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]} (Ada, Hopper)")
    return problems


def check_fp8(device) -> None:
    device = torch.device(device)
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    problems = fp8_problems(device, importlib.util.find_spec("torchao") is not None, capability)
    if problems:
        raise InputError("fp8 cannot run here: " + "; ".join(problems))


def fp8_eligible(module: nn.Module, name: str) -> bool:
    """A linear inside the DiT's blocks whose in/out sizes `torch._scaled_mm` accepts."""
    return (isinstance(module, nn.Linear) and name.startswith(BLOCKS)
            and module.in_features % 16 == 0 and module.out_features % 16 == 0)


def quantize_dit_fp8(transformer: nn.Module) -> int:
    """Swap the DiT's eligible linears to float8 (in place); returns how many were swapped."""
    check_fp8(next(transformer.parameters()).device)
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    names = [n for n, m in transformer.named_modules() if fp8_eligible(m, n)]
    if not names:
        raise InputError("the DiT has no linear layer fp8 can take (sizes must be multiples of 16)")
    quantize_(transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
              filter_fn=lambda m, fqn: fp8_eligible(m, fqn))
    return len(names)
