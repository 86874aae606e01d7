"""Feature networks for FID. Any callable works that maps a (N, 3, H, W) uint8 batch to (N, D) features;
`input_size` (square px, or None) tells the folder reader what to resize to so a batch stacks."""

from __future__ import annotations

import importlib
from typing import Callable

import torch

from ...errors import InputError


class FeatureNetwork:
    """Runs a module or function without autograd on `device` and flattens its output to (N, D)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], input_size: int | None, name: str,
                 device: str | torch.device = "cpu"):
        self.fn, self.input_size, self.name, self.device = fn, input_size, name, torch.device(device)
        if isinstance(fn, torch.nn.Module):
            fn.eval().to(self.device)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = self.fn(images.to(self.device))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(len(images), -1).double().cpu()


def import_factory(spec: str):
    """'package.module:attr' -> attr (a factory, module or function)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InputError(f"--features must look like package.module:factory, got {spec!r}")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise InputError(f"cannot import feature network {spec!r}: {e}") from e


def custom_network(spec: str, device: str, input_size: int | None) -> FeatureNetwork:
    """A user network: a factory returning a module/callable (or a FeatureNetwork itself)."""
    obj = import_factory(spec)
    net = obj() if isinstance(obj, type) or not isinstance(obj, torch.nn.Module) else obj
    if isinstance(net, FeatureNetwork):
        return net
    size = input_size if input_size is not None else getattr(net, "input_size", None)
    return FeatureNetwork(net, size, spec, device)

