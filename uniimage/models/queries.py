"""Learnable query tokens as their own parameter inside the MLLM's input embedding.

The published model appends 64 tokens `<|img0|>`... to the vocabulary (ids vocab_size ..
vocab_size + 63) and trains their embedding rows. Here the vocabulary matrix stays as it was
(frozen, tied to the LM head) and the query rows are a separate `queries` parameter, so weight decay
or optimizer state never touch the vocabulary and understanding keeps the original head.
"""

from __future__ import annotations

import torch
from torch import nn

# Rows the published checkpoint's resized embedding carries beyond vocabulary + queries, used by no token.
PUBLISHED_UNUSED_ROWS = 2


class QueryTokenEmbedding(nn.Embedding):
    """nn.Embedding over the vocabulary, plus `queries` for ids vocab_size .. vocab_size + n - 1."""

    def __init__(self, vocab: nn.Embedding, num_queries: int):
        nn.Module.__init__(self)
        self.num_embeddings, self.embedding_dim = vocab.num_embeddings, vocab.embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = vocab.padding_idx, None, 2.0
        self.scale_grad_by_freq, self.sparse = False, False
        self.weight = vocab.weight  # same Parameter: name `weight` keeps LM-head tying working
        self.queries = nn.Parameter(torch.empty(num_queries, self.embedding_dim, device=vocab.weight.device, dtype=vocab.weight.dtype))
        # The published layout's extra rows, kept only so a loaded checkpoint saves back bit-exact.
        self.register_buffer(
            "unused_rows", torch.zeros(PUBLISHED_UNUSED_ROWS, self.embedding_dim, device=vocab.weight.device, dtype=vocab.weight.dtype), persistent=False
        )

    @property
    def num_queries(self) -> int:
        return self.queries.shape[0]

    def reset_queries(self, generator: torch.Generator | None = None):
        """Fresh queries drawn around the vocabulary's statistics, like a resized embedding's new rows."""
        with torch.no_grad():
            w = self.weight.float()
            noise = torch.randn(self.queries.shape, generator=generator, device="cpu").to(w.device)
            self.queries.copy_((w.mean(0) + noise * w.std(0)).to(self.queries.dtype))

    def init_queries_as_noise(self, scale: float, generator: torch.Generator | None = None):
        """Zero-mean rows at `scale` x the vocabulary's per-channel std: small enough that the first
        attention stays near uniform over the prompt, large enough that the query tokens differ."""
        with torch.no_grad():
            noise = torch.randn(self.queries.shape, generator=generator, device="cpu").to(self.weight.device)
            self.queries.copy_((noise * self.weight.float().std(0) * scale).to(self.queries.dtype))

    def init_queries_from_tokens(self, token_ids: list[int]):
        """Query rows copied from these vocabulary rows, cycled (prompt-tuning style initialisation).
        Why: a small MLLM's states at fresh random query rows can be nearly prompt-independent; some
        tokens' rows make them read the prompt far more, which gives the DiT a condition to learn from."""
        if not token_ids:
            raise ValueError("init_queries_from_tokens needs at least one token id")
        bad = [t for t in token_ids if not 0 <= t < self.num_embeddings]
        if bad:
            raise ValueError(f"token ids {bad} are outside the vocabulary (0..{self.num_embeddings - 1})")
        rows = torch.tensor([token_ids[i % len(token_ids)] for i in range(self.num_queries)], device=self.weight.device)
        with torch.no_grad():
            self.queries.copy_(self.weight[rows].to(self.queries.dtype))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_query = ids >= self.num_embeddings
        vocab_emb = super().forward(ids.masked_fill(is_query, 0))
        if not bool(is_query.any()):
            return vocab_emb
        # An embedding lookup, not `queries[idx]`: indexing's backward accumulates the rows' gradients
        # with atomic adds across CPU threads (a different sum order each run); embedding's does not.
        query_emb = nn.functional.embedding((ids - self.num_embeddings).clamp(0, self.num_queries - 1), self.queries)
        return torch.where(is_query.unsqueeze(-1), query_emb.to(vocab_emb.dtype), vocab_emb)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, queries={self.num_queries}"
