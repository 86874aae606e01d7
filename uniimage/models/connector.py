"""The connector: MLLM hidden states -> the DiT's caption space. One shared by every ladder layer."""

from __future__ import annotations

import math

import torch
from torch import nn


class Connector(nn.Sequential):
    """Linear -> GELU(tanh) -> Linear -> RMSNorm, as published (indices 0, 2, 3 are the checkpoint keys)."""

    def __init__(self, mllm_hidden: int, caption_channels: int, norm_eps: float = 1e-5, norm_init: float = math.sqrt(5.5)):
        super().__init__(
            nn.Linear(mllm_hidden, caption_channels),
            nn.GELU(approximate="tanh"),
            nn.Linear(caption_channels, caption_channels),
            nn.RMSNorm(caption_channels, eps=norm_eps, elementwise_affine=True),
        )
        self.norm_init = norm_init
        self.reset_norm()

    def reset_norm(self):
        # sqrt(5.5) as published: the RMS-normed output then has roughly the scale SANA's captions had.
        if self[3].weight.device.type != "meta":
            with torch.no_grad():
                self[3].weight.fill_(self.norm_init)

    # A pipeline component reports where and in what precision it computes, as diffusers' models do.
    @property
    def device(self) -> torch.device:
        return self[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self[0].weight.dtype
