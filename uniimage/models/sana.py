"""SANA with one condition per block: the diffusers transformer, unchanged, fed a ladder of contexts.

The K per-block conditions [K, B, N, C] are laid side by side as one caption sequence [B, K*N, C].
SANA's caption projection and caption norm act token by token, so running them on the long
sequence equals running them on each condition. A pre-hook on block k then hands it only its own
N tokens (and mask columns). Everything else is diffusers' own forward.
"""

from __future__ import annotations

import torch
from diffusers import SanaTransformer2DModel


class LadderSanaTransformer(SanaTransformer2DModel):
    """`SanaTransformer2DModel` whose `encoder_hidden_states` is [num_blocks, B, N, caption_channels]."""

    # No __init__ of our own: diffusers reads the config fields from the parent's signature.
    def _install_block_hooks(self):
        if getattr(self, "_block_hooks", None) is None:
            self._block_hooks = [block.register_forward_pre_hook(self._block_condition_hook(k), with_kwargs=True)
                                 for k, block in enumerate(self.transformer_blocks)]

    @property
    def num_blocks(self) -> int:
        return len(self.transformer_blocks)

    def _block_condition_hook(self, k: int):
        # Block call signature (diffusers 0.42): (hidden, attn_mask, encoder_hidden, encoder_mask, timestep, h, w).
        def hook(module, args, kwargs):
            # Stateless (N from the shape), so gradient-checkpointing recomputation slices the same way.
            args = list(args)
            n = args[2].shape[1] // self.num_blocks
            args[2] = args[2][:, k * n : (k + 1) * n]
            if args[3] is not None:
                args[3] = args[3][..., k * n : (k + 1) * n]
            return tuple(args), kwargs
        return hook

    def forward(self, hidden_states, encoder_hidden_states, timestep, encoder_attention_mask=None, **kwargs):
        K, B, N, C = encoder_hidden_states.shape
        if K != self.num_blocks:
            raise ValueError(f"got {K} block conditions for a transformer with {self.num_blocks} blocks")
        self._install_block_hooks()
        sequence = encoder_hidden_states.permute(1, 0, 2, 3).reshape(B, K * N, C)
        mask = encoder_attention_mask.repeat(1, K) if encoder_attention_mask is not None else None
        return super().forward(hidden_states, sequence, timestep, encoder_attention_mask=mask, **kwargs)
