"""Models known without a network: config-only presets built with random weights, shipped weights,
and hub aliases. Each preset is a folder in the published layout (config.json + component configs)."""

from __future__ import annotations

from pathlib import Path

PRESET_DIR = Path(__file__).parent
HUB_ALIASES = {"tbac-uniimage-3b": "TencentBAC/TBAC-UniImage-3B"}
# Presets with no weights: `from_pretrained` builds them with seeded random weights.
RANDOM_PRESETS = ("tiny", "small")


def preset_folder(name: str) -> Path | None:
    folder = PRESET_DIR / name
    return folder if (folder / "config.json").is_file() else None


def build_preset(name: str, dtype=None, empty: bool = False, seed: int = 0, **overrides):
    """A preset's model from its configs: random (seeded) weights, or empty ones on the meta device."""
    import torch  # here, not at the top: the CLI reads preset folders before (or without) torch

    dtype = dtype or torch.float32
    from ..checkpoint.components import load_components
    from ..checkpoint.pretrained import build_processor, read_config
    from ..models.uniimage import UniImageModel

    folder = preset_folder(name)
    config = read_config(folder, **overrides)
    components = load_components(config, [folder])
    model = UniImageModel.from_configs(config, components.mllm_config, components.transformer_config,
                                       components.vae_config, empty=empty, dtype=dtype, seed=seed)
    processor = build_processor(config, components) if not empty else None
    return model.eval(), processor, components


def load_preset_or_checkpoint(ref: str, dtype, **overrides):
    from ..checkpoint.pretrained import load_pretrained

    if ref in RANDOM_PRESETS and not Path(ref).exists():
        return build_preset(ref, dtype, **overrides)
    folder = preset_folder(ref)
    if folder is not None and not Path(ref).exists() and any(folder.glob("*.safetensors")):
        return load_pretrained(str(folder), dtype, **overrides)
    return load_pretrained(HUB_ALIASES.get(ref, ref), dtype, **overrides)
