"""SANA with one condition per block: diffusers' transformer, its forward written as a loop that
hands block k its own context.

    x    = patch_embed(latents);  t, t_emb = time_embed(timestep)
    c[k] = caption_norm(caption_projection(conditions[k]))           # token-wise, the same for every k
    for k, block in enumerate(blocks):
        x = block(x, encoder_hidden_states=c[k], ...)                  # the ladder: block k reads c[k]
    velocity = unpatchify(proj_out(norm_out(x, t_emb)))

With the same condition in every block this is exactly stock `SanaTransformer2DModel.forward`.
"""

from __future__ import annotations

import torch
from diffusers import SanaTransformer2DModel
from diffusers.models.modeling_outputs import Transformer2DModelOutput


def mask_to_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """[B, N] keep=1 / drop=0 -> additive bias [B, 1, N], as SANA turns its masks (already a bias: as is)."""
    if mask is None or mask.ndim != 2:
        return mask
    return ((1 - mask.to(dtype)) * -10000.0).unsqueeze(1)


class LadderSanaTransformer(SanaTransformer2DModel):
    """`SanaTransformer2DModel` whose `encoder_hidden_states` is [num_blocks, B, N, caption_channels]."""

    # No __init__ of our own: diffusers reads the config fields from the parent's signature.
    # Regional compilation (`compile_repeated_blocks`): diffusers 0.42 leaves SANA's list empty.
    _repeated_blocks = ["SanaTransformerBlock"]
    @property
    def num_blocks(self) -> int:
        return len(self.transformer_blocks)

    def embed_conditions(self, conditions: torch.Tensor) -> torch.Tensor:
        """[K, B, N, caption_channels] -> [K, B, N, inner_dim]: SANA's caption projection and norm on each."""
        K, B, N, _ = conditions.shape
        x = self.caption_norm(self.caption_projection(conditions.reshape(K * B, N, -1)))
        return x.reshape(K, B, N, -1)

    def forward(self, hidden_states, encoder_hidden_states, timestep, encoder_attention_mask=None,
                attention_mask=None, guidance=None, return_dict: bool = True):
        K, B = encoder_hidden_states.shape[:2]
        if K != self.num_blocks:
            raise ValueError(f"got {K} block conditions for a transformer with {self.num_blocks} blocks")
        attention_mask = mask_to_bias(attention_mask, hidden_states.dtype)
        encoder_attention_mask = mask_to_bias(encoder_attention_mask, hidden_states.dtype)

        batch, _, height, width = hidden_states.shape
        p = self.config.patch_size
        h, w = height // p, width // p
        # Contiguous: the patch embedding hands back a transposed view, and a compiled block specialised
        # to block 1's strides would otherwise compile a second time for block 0.
        x = self.patch_embed(hidden_states).contiguous()
        if guidance is not None:
            t, t_emb = self.time_embed(timestep, guidance=guidance, hidden_dtype=x.dtype)
        else:
            t, t_emb = self.time_embed(timestep, batch_size=batch, hidden_dtype=x.dtype)
        contexts = self.embed_conditions(encoder_hidden_states)

        checkpointing = torch.is_grad_enabled() and self.gradient_checkpointing
        for block, context in zip(self.transformer_blocks, contexts):
            def run(x, context, block=block):
                return block(x, attention_mask=attention_mask, encoder_hidden_states=context,
                             encoder_attention_mask=encoder_attention_mask, timestep=t, height=h, width=w)
            x = self._gradient_checkpointing_func(run, x, context) if checkpointing else run(x, context)

        x = self.proj_out(self.norm_out(x, t_emb, self.scale_shift_table))
        x = x.reshape(batch, h, w, p, p, -1).permute(0, 5, 1, 3, 2, 4)
        out = x.reshape(batch, -1, h * p, w * p)
        return Transformer2DModelOutput(sample=out) if return_dict else (out,)
