"""The ladder: which MLLM hidden state conditions which DiT block, and reading those states out.

Hidden-state indices follow transformers' `output_hidden_states` convention for a decoder with L
layers: index 0 is the embedding output, index i (1 <= i < L) the output of layer i, index L the
final layer's output after the final norm. Index i < L is therefore exactly the *input* of layer i.
`text_hidden_states` is the Qwen2.5-VL text forward written as a loop that stops after the deepest
index the mapping needs, so with the published ladder it never runs its last layer, final norm or LM head.
"""

from __future__ import annotations

import torch
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

from ..errors import ConfigError


def ladder_indices(spec, num_mllm_layers: int, num_dit_blocks: int) -> list[int]:
    """Hidden-state index feeding each DiT block (element k feeds block k)."""
    L, K = num_mllm_layers, num_dit_blocks
    if spec == "ladder":
        # Published: the K states just below the last one, shallowest to block 0; never the normed final state.
        if K > L:
            raise ConfigError(f"the ladder needs at least as many MLLM layers ({L}) as DiT blocks ({K})")
        return list(range(L - K, L))
    if spec == "final":
        # MetaQuery-style: the final (normed) state conditions every block.
        return [L] * K
    if isinstance(spec, (list, tuple)):
        indices = [int(i) for i in spec]
        if len(indices) != K:
            raise ConfigError(f"ladder lists {len(indices)} layer indices but the DiT has {K} blocks")
        bad = [i for i in indices if not 0 <= i <= L]
        if bad:
            raise ConfigError(f"ladder indices {bad} out of range 0..{L} for an MLLM with {L} layers")
        return indices
    raise ConfigError(f"ladder must be 'ladder', 'final' or a list of indices, got {spec!r}")


def text_hidden_states(qwen, input_ids, attention_mask, position_ids, indices: list[int],
                       image_features=None) -> dict[int, torch.Tensor]:
    """{index: hidden state} of a Qwen2.5-VL model (`Qwen2_5_VLModel`) for the indices asked, running
    its decoder layers only as deep as the deepest one. `image_features` (`get_image_features` output,
    one entry per image placeholder) go into the image-pad positions as in its own forward."""
    text = qwen.language_model
    hidden = qwen.get_input_embeddings()(input_ids)
    if image_features is not None:
        image_embeds = torch.cat(image_features.pooler_output, dim=0).to(hidden.device, hidden.dtype)
        image_mask, _ = qwen.get_placeholder_mask(input_ids, inputs_embeds=hidden, image_features=image_embeds)
        hidden = hidden.masked_scatter(image_mask, image_embeds)
    mask_kwargs = dict(config=text.config, inputs_embeds=hidden, attention_mask=attention_mask, cache=None, position_ids=None)
    masks = {"full_attention": create_causal_mask(**mask_kwargs)}
    if getattr(text, "has_sliding_layers", False):
        masks["sliding_attention"] = create_sliding_window_causal_mask(**mask_kwargs)
    rope = text.rotary_emb(hidden, position_ids)

    L, deepest = len(text.layers), max(indices)
    states = {}
    for i in range(min(deepest, L)):
        states[i] = hidden  # the input of layer i is hidden state i
        hidden = text.layers[i](hidden, attention_mask=masks[text.config.layer_types[i]], position_embeddings=rope)
    states[deepest] = text.norm(hidden) if deepest == L else hidden
    return {i: states[i] for i in indices}
