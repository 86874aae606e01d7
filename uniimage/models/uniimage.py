"""UniImageModel: the MLLM that reads, the connector, the ladder-conditioned SANA that draws, the VAE.

    condition = connector(MLLM hidden states at the query positions, one depth per DiT block)
    velocity  = transformer(noisy latents, timestep, condition)
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderDC
from torch import nn
from transformers import Qwen2_5_VLForConditionalGeneration

from ..config import UniImageConfig
from .connector import Connector
from .ladder import ladder_indices, text_hidden_states
from .queries import QueryTokenEmbedding
from .sana import LadderSanaTransformer


def onload(module: nn.Module):
    """Run an offload hook's pre-forward (diffusers' `enable_model_cpu_offload` puts one on each
    component's `forward`): the readout calls into the MLLM's parts, never its `forward`, so it moves
    the MLLM itself, as diffusers' `apply_forward_hook` does for a VAE's `decode`."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None:
        hook.pre_forward(module)


class UniImageModel(nn.Module):
    def __init__(self, config: UniImageConfig, mllm: Qwen2_5_VLForConditionalGeneration,
                 transformer: LadderSanaTransformer, vae: AutoencoderDC, connector: Connector):
        super().__init__()
        self.config = config
        self.mllm, self.transformer, self.vae, self.connector = mllm, transformer, vae, connector
        if not isinstance(mllm.get_input_embeddings(), QueryTokenEmbedding):
            mllm.set_input_embeddings(QueryTokenEmbedding(mllm.get_input_embeddings(), config.num_metaqueries))
        self.tie_head()
        self.ladder = ladder_indices(config.ladder, self.num_mllm_layers, transformer.num_blocks)

    # ---- construction ----
    @classmethod
    def from_configs(cls, config: UniImageConfig, mllm_config, transformer_config: dict, vae_config: dict,
                     empty: bool = False, dtype: torch.dtype = torch.float32, seed: int | None = None) -> "UniImageModel":
        """Build from component configs: random weights (seeded), or empty (meta) ones to load into."""
        if seed is not None:
            torch.manual_seed(seed)
        with init_empty_weights() if empty else nullcontext():
            mllm = Qwen2_5_VLForConditionalGeneration._from_config(mllm_config, dtype=dtype)
            transformer = LadderSanaTransformer.from_config(transformer_config)
            vae = AutoencoderDC.from_config(vae_config)
            connector = Connector(mllm_config.text_config.hidden_size, transformer.config.caption_channels)
            model = cls(config, mllm, transformer, vae, connector)
        model.tie_head()  # again outside init_empty_weights, which re-creates assigned parameters
        if not empty:
            model.to(dtype)
            model.query_embedding.reset_queries()
        return model

    def tie_head(self):
        if self.mllm.config.tie_word_embeddings:
            self.mllm.lm_head.weight = self.query_embedding.weight  # the LM head is the vocabulary rows

    # ---- parts ----
    @property
    def text_model(self):
        return self.mllm.model.language_model

    @property
    def query_embedding(self) -> QueryTokenEmbedding:
        return self.text_model.embed_tokens

    @property
    def queries(self) -> nn.Parameter:
        return self.query_embedding.queries

    @property
    def num_mllm_layers(self) -> int:
        return len(self.text_model.layers)

    @property
    def vocab_size(self) -> int:
        return self.query_embedding.num_embeddings

    # ---- conditioning ----
    def mllm_hidden_states(self, input_ids, attention_mask, pixel_values=None, image_grid_thw=None,
                           image_features=None) -> dict[int, torch.Tensor]:
        """Hidden states at the ladder's indices; the MLLM runs only as deep as the deepest one.
        `image_features` (vision-tower output for these images) skips re-running the vision tower."""
        onload(self.mllm)
        qwen = self.mllm.model
        if image_features is None and pixel_values is not None:
            image_features = qwen.get_image_features(pixel_values, image_grid_thw, return_dict=True)
        token_types = (input_ids == self.mllm.config.image_token_id).int()
        # Explicit mask-aware positions: left-padded rows start at position 0, as the published model saw.
        position_ids, _ = qwen.get_rope_index(input_ids, token_types, image_grid_thw=image_grid_thw, attention_mask=attention_mask)
        return text_hidden_states(qwen, input_ids, attention_mask, position_ids, self.ladder, image_features)

    def image_features(self, pixel_values, image_grid_thw):
        """Vision-tower output, one entry per image (`pooler_output` is a tuple): computed once, it can
        feed any number of rows through `encode_condition(image_features=...)`."""
        onload(self.mllm)
        return self.mllm.model.get_image_features(pixel_values, image_grid_thw, return_dict=True)

    def query_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, N] indices strictly between each row's last <|vision_start|> and last <|vision_end|>."""
        cfg, n = self.mllm.config, self.config.num_metaqueries
        seq = torch.arange(input_ids.shape[1], device=input_ids.device)
        last = lambda tok: torch.where(input_ids == tok, seq, -1).max(dim=1).values
        start, end = last(cfg.vision_start_token_id), last(cfg.vision_end_token_id)
        if not bool(((end - start - 1) == n).all()):
            raise ValueError(f"every MLLM row must end with {n} query tokens between <|vision_start|> and <|vision_end|>")
        return start.unsqueeze(1) + 1 + torch.arange(n, device=input_ids.device)

    def ladder_states(self, input_ids, attention_mask, pixel_values=None, image_grid_thw=None, image_features=None):
        """-> (MLLM states at the query positions [K, B, N, H], one per ladder layer; mask [B, N])."""
        states = self.mllm_hidden_states(input_ids, attention_mask, pixel_values, image_grid_thw, image_features)
        positions = self.query_positions(input_ids)
        rows = torch.arange(input_ids.shape[0], device=input_ids.device).unsqueeze(1)
        return torch.stack([states[i][rows, positions] for i in self.ladder]), attention_mask[rows, positions]

    def encode_condition(self, input_ids, attention_mask, pixel_values=None, image_grid_thw=None, image_features=None):
        """-> (condition [K, B, N, caption_channels], mask [B, N]): block k's context is condition[k]."""
        ladder, mask = self.ladder_states(input_ids, attention_mask, pixel_values, image_grid_thw, image_features)
        return self.connector(ladder.to(self.connector[0].weight.dtype)), mask

    def encode_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] [B, 3, H, W] -> float32 latents in the DiT's space ((z - shift) * scaling_factor)."""
        vae = self.vae
        z = vae.encode(pixels.to(vae.dtype)).latent.float()  # vae.dtype: the compute dtype under layerwise casting
        return (z - (getattr(vae.config, "shift_factor", None) or 0.0)) * vae.config.scaling_factor

    # ---- memory ----
    def quantize_mllm(self, mode: str, device="cuda") -> int:
        """8-bit or 4-bit MLLM linears through bitsandbytes, placed on `device` (CUDA only)."""
        from .quantization import quantize_linears

        dtype = self.connector[0].weight.dtype
        compute = dtype if dtype in (torch.float16, torch.bfloat16) else torch.bfloat16
        swapped = quantize_linears(self.mllm, mode, device, compute)
        self.tie_head()
        return swapped

    def forward(self, latents, timestep, condition, condition_mask):
        """Velocity prediction of the ladder-conditioned DiT."""
        return self.transformer(latents, condition, timestep, encoder_attention_mask=condition_mask, return_dict=False)[0]
