"""Tiny randomly initialised networks for metric tests (no weights, no network access)."""

from __future__ import annotations

import torch


class TinyFeatures(torch.nn.Module):
    """uint8 NCHW -> 16 features; fixed seed so every call builds the same network."""

    input_size = 32

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 16, 5, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=gen) * 0.2)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x.float() / 127.5 - 1.0))
        return h.mean(dim=(2, 3))


class TinyInception(torch.nn.Module):
    """Calls like the TorchScript Inception port: float pixels in [0, 255], `return_features=True`."""

    def __init__(self):
        super().__init__()
        self.net = TinyFeatures()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.net(x)
