"""CPU offload with accelerate hooks: weights live in CPU memory, the GPU holds only what runs.

model offload  : MLLM -> DiT -> VAE, each moved to the GPU whole when its forward starts; the one before
                 it goes back to the CPU then (accelerate `cpu_offload_with_hook` chain). Peak GPU memory
                 is the largest of the three plus activations; the DiT stays put for all its steps.
sequential     : every submodule's weights are streamed in for its own forward and dropped after it
                 (accelerate `cpu_offload`). Smallest memory, slowest.
The connector (a few M parameters) stays on the execution device in both: it is where inputs go.
"""

from __future__ import annotations

import torch
from accelerate import cpu_offload, cpu_offload_with_hook
from accelerate.hooks import remove_hook_from_module


def execution_device(device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        # accelerate compares parameter devices to this one: 'cuda' would never equal 'cuda:0'.
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def offloaded_modules(model) -> list[torch.nn.Module]:
    return [model.mllm, model.transformer, model.vae]


def enable_model_offload(model, device: torch.device) -> list:
    """Chain hooks MLLM -> transformer -> VAE; returns the user hooks (offload() / remove())."""
    qwen = model.mllm.model  # conditioning calls the inner Qwen2.5-VL model, not the LM wrapper
    # The vision tower also runs alone (features computed once per image), so it needs its own hook;
    # it needs no chain: it is part of `qwen`, which the transformer's hook sends back.
    _, visual_hook = cpu_offload_with_hook(qwen.visual, device)
    _, mllm_hook = cpu_offload_with_hook(qwen, device)
    _, dit_hook = cpu_offload_with_hook(model.transformer, device, prev_module_hook=mllm_hook)
    _, vae_hook = cpu_offload_with_hook(model.vae, device, prev_module_hook=dit_hook)
    model.connector.to(device)
    return [visual_hook, mllm_hook, dit_hook, vae_hook]


def enable_sequential_offload(model, device: torch.device):
    for module in offloaded_modules(model):
        cpu_offload(module, execution_device=device)
    model.connector.to(device)


def remove_offload(model, hooks: list):
    """Detach every hook; sequential hooks put the weights back from their CPU copy as they go."""
    for hook in hooks:
        hook.offload()
    for module in offloaded_modules(model):
        remove_hook_from_module(module, recurse=True)
    model.to("cpu")
