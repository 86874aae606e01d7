"""Word attention for the slot stage: some heads of each object query are taught to look at its object's words.

Why: the slot model's object queries spread their attention almost evenly over ~40 positions (the colour word
gets 0.02-0.06 of it), so a slot is pooled from states that have each seen the whole caption, and the pair is
formed in the MLPs, where an unseen colour-shape pair is new (demo README, "Held-out colour-shape pairs").
A head that attends to the colour word copies that word's value into the slot whatever shape follows; this
loss asks head 0 of every layer to attend to the object's colour word and head 1 to its shape word.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

import torch

from ..shapes.vocab import PLURALS
from .nonce import row_objects

COLOUR_HEAD, SHAPE_HEAD = 0, 1


def _find(ids: list[int], word_ids: list[int], start: int) -> int:
    """First index >= start where word_ids occurs in ids, or -1."""
    n = len(word_ids)
    return next((i for i in range(start, len(ids) - n + 1) if ids[i:i + n] == word_ids), -1)


@lru_cache(maxsize=4096)
def _word_ids(tokenizer, word: str) -> tuple[int, ...]:
    """The tokens of a word as it follows a space (tokenised once per word: the vocabulary is small)."""
    return tuple(tokenizer.encode(" " + word, add_special_tokens=False))


def word_positions(tokenizer, input_ids: torch.Tensor, rows: list[dict], end: torch.Tensor) -> list[list[tuple]]:
    """Per row, per named object (at most two, in caption order): (colour token positions, shape token positions),
    found in order before position end[row] (the first query). A word the caption does not have gives []."""
    out = []
    for b, row in enumerate(rows):
        ids, cursor, objects = input_ids[b, : int(end[b])].tolist(), 0, []
        for obj in row_objects(row)[:2]:
            spans = []
            shape_words = (obj["class"], PLURALS.get(obj["class"], obj["class"] + "s"))
            for words in ((obj["color"],) if "color" in obj else (), shape_words):
                found = []
                for word in words:
                    word_ids = list(_word_ids(tokenizer, word))
                    at = _find(ids, word_ids, cursor)
                    if at >= 0 and (not found or at < found[0]):
                        found = list(range(at, at + len(word_ids)))
                if found:
                    cursor = found[-1] + 1
                spans.append(found)
            objects.append(tuple(spans))
        out.append(objects)
    return out


@contextmanager
def captured_attention(mllm):
    """Attention weights of every text layer, {layer index: [B, heads, T, T]}, while the block runs. Needs the
    eager attention implementation (SDPA returns no weights); the previous one is restored afterwards."""
    layers = mllm.model.language_model.layers
    configs = [m.config for m in mllm.modules() if hasattr(m, "config") and hasattr(m.config, "_attn_implementation")]
    before = [c._attn_implementation for c in configs]
    for c in configs:
        c._attn_implementation = "eager"
    caught: dict[int, torch.Tensor] = {}
    hooks = [layer.self_attn.register_forward_hook(lambda m, a, out, i=i: caught.__setitem__(i, out[1]))
             for i, layer in enumerate(layers)]
    try:
        yield caught
    finally:
        for h in hooks:
            h.remove()
        for c, impl in zip(configs, before):
            c._attn_implementation = impl


def word_attention_loss(caught: dict, query_positions: torch.Tensor, spans: list[list[tuple]], roles: int) -> torch.Tensor:
    """Mean over layers, rows and object queries of -log(attention mass on the object's colour word) for head
    COLOUR_HEAD and on its shape word for head SHAPE_HEAD. Query q holds object q % roles (slots.py)."""
    terms = []
    for weights in caught.values():
        for b, objects in enumerate(spans):
            for k, (colour, shape) in enumerate(objects):
                queries = query_positions[b, k::roles]
                for head, where in ((COLOUR_HEAD, colour), (SHAPE_HEAD, shape)):
                    if where:
                        mass = weights[b, head][queries][:, where].sum(-1)
                        terms.append(-torch.log(mass.clamp_min(1e-6)).mean())
    if not terms:
        return torch.zeros((), device=query_positions.device)
    return torch.stack(terms).mean()
