"""The ladder: which MLLM hidden state conditions which DiT block, and reading those states out.

Hidden-state indices follow transformers' `output_hidden_states` convention for a decoder with L
layers: index 0 is the embedding output, index i (1 <= i < L) the output of layer i, index L the
final layer's output after the final norm. Index i < L is therefore exactly the *input* of layer i,
which is how we capture it: a pre-hook on layer i. The MLLM stops right after the deepest index the
mapping needs, so with the published ladder it never runs its last layer, final norm or LM head.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

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


class _EnoughLayers(Exception):
    """Raised from a hook once every needed hidden state is captured, to skip the rest of the MLLM."""


@contextmanager
def capture_hidden_states(text_model: nn.Module, indices: list[int]):
    """Within the block, a forward of the model containing `text_model` fills the yielded dict
    {index: hidden state} and stops early. Wrap the forward call in `run_until_captured`."""
    layers, L = text_model.layers, len(text_model.layers)
    wanted, deepest = sorted(set(indices)), max(indices)
    states: dict[int, torch.Tensor] = {}
    handles = []

    def pre_hook(i):
        def hook(module, args, kwargs):
            states[i] = args[0] if args else kwargs["hidden_states"]
            if i == deepest:
                raise _EnoughLayers
        return hook

    def norm_hook(module, args, output):
        states[L] = output
        raise _EnoughLayers

    try:
        for i in wanted:
            if i < L:
                handles.append(layers[i].register_forward_pre_hook(pre_hook(i), with_kwargs=True))
            else:
                handles.append(text_model.norm.register_forward_hook(norm_hook))
        yield states
    finally:
        for h in handles:
            h.remove()


def run_until_captured(forward, *args, **kwargs):
    """Call `forward`; a capture hook ending it early is the normal way out."""
    try:
        forward(*args, **kwargs)
    except _EnoughLayers:
        pass
