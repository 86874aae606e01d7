"""Parameter counts per part: what `uniimage info` prints and the meta-device tests check."""

from __future__ import annotations


def count(module, exclude=()) -> int:
    skip = {id(p) for p in exclude}
    seen, total = set(), 0
    for p in module.parameters():
        if id(p) not in seen and id(p) not in skip:
            seen.add(id(p))
            total += p.numel()
    return total


def parameter_counts(model) -> dict[str, int]:
    """MLLM (text + vision, tied head counted once, queries excluded), queries, connector, DiT, VAE."""
    counts = {
        "mllm": count(model.mllm, exclude=[model.queries]),
        "mllm.vision": count(model.mllm.model.visual),
        "queries": model.queries.numel(),
        "connector": count(model.connector),
        "transformer": count(model.transformer),
        "vae": count(model.vae),
    }
    counts["total"] = counts["mllm"] + counts["queries"] + counts["connector"] + counts["transformer"] + counts["vae"]
    return counts
