"""Published checkpoint keys <-> our module names.

The published checkpoint is transformers' `save_pretrained` of the original wrapper, with Qwen2.5-VL
in the pre-4.52 layout (`model.layers`, `visual`) and the query rows appended to a resized embedding.
"""

from __future__ import annotations

# (published prefix, our prefix). Newer-layout MLLM prefixes come first so they win over the old ones.
PREFIXES = [
    ("model.mllm_backbone.model.language_model.", "mllm.model.language_model."),
    ("model.mllm_backbone.model.visual.", "mllm.model.visual."),
    ("model.mllm_backbone.model.", "mllm.model.language_model."),
    ("model.mllm_backbone.visual.", "mllm.model.visual."),
    ("model.mllm_backbone.lm_head.", "mllm.lm_head."),
    ("model.transformer.", "transformer."),
    ("model.connector.", "connector."),
    ("vae.", "vae."),
]
PUBLISHED_EMBEDDING = "model.mllm_backbone.model.embed_tokens.weight"
EMBEDDING = "mllm.model.language_model.embed_tokens.weight"
QUERIES = "mllm.model.language_model.embed_tokens.queries"
LM_HEAD = "mllm.lm_head.weight"


def to_ours(key: str) -> str | None:
    for published, ours in PREFIXES:
        if key.startswith(published):
            return ours + key[len(published):]
    return None


def to_published(key: str) -> str:
    # The old layout is what the published checkpoint (and tools reading it) use.
    for published, ours in PREFIXES[2:]:
        if key.startswith(ours):
            return published + key[len(ours):]
    raise KeyError(f"no published name for {key}")
