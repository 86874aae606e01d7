"""What learns. Published: the query embeddings, the connector and the DiT; VAE and MLLM frozen.

The vocabulary matrix (`query_embedding.weight`, tied to the LM head) is never trainable: it stays
out of the optimizer, so weight decay cannot shrink it (the original code's decay did).
Options: the MLLM's deepest N ladder layers, a frozen DiT, LoRA adapters (peft) on DiT and/or MLLM.
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from .config import FreezeConfig, LoraSettings


def used_mllm_layers(model) -> int:
    """How many MLLM layers the ladder runs: hidden state i < L is the input of layer i, so the
    deepest index d needs layers 0..d-1 (index L, the normed final state, needs all of them)."""
    return min(max(model.ladder), model.num_mllm_layers)


def apply_freeze(model, config: FreezeConfig) -> list[str]:
    """Set requires_grad as the policy says (LoRA layers are injected here); returns trainable names."""
    if config.lora:
        add_lora(model, config.lora)  # first: peft freezes everything else inside the module it touches
    model.requires_grad_(False)
    model.queries.requires_grad_(config.train_queries)
    model.connector.requires_grad_(config.train_connector)
    lora_targets = set(config.lora.targets) if config.lora else set()
    model.transformer.requires_grad_(config.train_dit and "dit" not in lora_targets)
    if config.mllm_last_layers:
        used = used_mllm_layers(model)
        if not 0 < config.mllm_last_layers <= used:
            raise ConfigError(f"freeze.mllm_last_layers must be in 1..{used} (layers the ladder uses), got {config.mllm_last_layers}")
        for layer in model.text_model.layers[used - config.mllm_last_layers : used]:
            layer.requires_grad_(True)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(True)
    _freeze_unused_layers(model)
    model.query_embedding.weight.requires_grad_(False)  # the vocabulary rows, always
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ConfigError("the freeze policy leaves nothing to train")
    return names


def _freeze_unused_layers(model):
    # Layers past the ladder never run: trainable weights there would get no gradient (and DDP would
    # wait for it forever).
    for layer in model.text_model.layers[used_mllm_layers(model):]:
        layer.requires_grad_(False)


# ---- LoRA (peft), injected in place so module types and state-dict names of the rest stay as they are ----
def add_lora(model, settings: LoraSettings):
    from peft import LoraConfig, inject_adapter_in_model

    def inject(module: nn.Module, targets: list[str], **extra):
        cfg = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                         target_modules=targets, **extra)
        inject_adapter_in_model(cfg, module)

    if "dit" in settings.targets:
        inject(model.transformer, settings.dit_modules)
    if "mllm" in settings.targets:
        # Only the text layers the ladder runs; the vision tower and unused layers stay untouched.
        inject(model.text_model, settings.mllm_modules, layers_to_transform=list(range(used_mllm_layers(model))),
               layers_pattern="layers")


def merge_lora(model) -> int:
    """Fold every LoRA adapter into its base weight and put the plain layer back; returns how many."""
    from peft.tuners.lora import LoraLayer

    merged = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, LoraLayer):
                child.merge()
                setattr(parent, child_name, child.get_base_layer())
                merged += 1
    return merged
