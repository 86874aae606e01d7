"""from_pretrained / save_pretrained for whole UniImage models (published layout)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from ..config import UniImageConfig
from ..errors import CheckpointError
from ..models.uniimage import UniImageModel
from ..processing import UniImageProcessor
from .components import Components, download, load_components, looks_like_hub_id, resolve
from .load import load_published_weights
from .save import save_published_weights

CONFIG_FILE = "config.json"


def checkpoint_folder(ref: str) -> Path:
    """A local checkpoint folder, or a hub repo downloaded (config + safetensors only)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise CheckpointError(f"{ref} is a file; a checkpoint is a folder with config.json and safetensors")
    if not looks_like_hub_id(ref):
        raise CheckpointError(f"checkpoint {ref!r} not found: no such folder, and not a hub id")
    return download(ref, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.jinja", "*/*.json"])


def read_config(folder: Path, **overrides) -> UniImageConfig:
    if not (folder / CONFIG_FILE).is_file():
        raise CheckpointError(f"no {CONFIG_FILE} in {folder}")
    return UniImageConfig.from_json_file(folder / CONFIG_FILE, **overrides)


def build_processor(config: UniImageConfig, components: Components) -> UniImageProcessor:
    return UniImageProcessor(
        components.tokenizer(), components.image_processor(),
        vocab_size=components.mllm_config.text_config.vocab_size, num_queries=config.num_metaqueries,
        system_prompt=config.system_prompt, max_text_tokens=config.max_input_text_tokens, image_pixels=config.image_pixels,
    )


def search_dirs(folder: Path) -> list[Path]:
    # The original resolves relative component paths from its working directory, which for the
    # published layout is the checkpoint's parent; our own saves put them inside the checkpoint.
    return [folder, folder.parent, Path.cwd()]


def load_pretrained(ref: str, torch_dtype: torch.dtype = torch.float32, **overrides):
    """-> (model, processor, components). Weights go straight into empty modules."""
    folder = checkpoint_folder(ref)
    config = read_config(folder, **overrides)
    components = load_components(config, search_dirs(folder))
    model = UniImageModel.from_configs(config, components.mllm_config, components.transformer_config,
                                       components.vae_config, empty=True, dtype=torch_dtype)
    load_published_weights(model, folder, torch_dtype)
    model.eval()
    return model, build_processor(config, components), components


def _copy_files(src: Path, dst: Path, patterns: list[str]):
    dst.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for f in src.glob(pattern):
            if f.is_file():
                shutil.copy2(f, dst / f.name)


def save_components(components: Components, folder: Path) -> dict:
    """Copy the component configs and tokenizer files into the checkpoint, so it stands alone."""
    _copy_files(components.mllm_dir, folder / "mllm", ["*.json", "*.txt", "*.jinja"])
    sana = folder / "sana"
    for sub, cfg in (("transformer", components.transformer_config), ("vae", components.vae_config)):
        (sana / sub).mkdir(parents=True, exist_ok=True)
        (sana / sub / "config.json").write_text(json.dumps(cfg, indent=2))
    _copy_files(components.scheduler_dir, sana / "scheduler", ["*.json"])
    ids = {"mllm_id": "mllm", "diffusion_model_id": "sana", "vae_id": "sana", "scheduler_id": "sana", "noise_scheduler_id": "sana"}
    if components.noise_scheduler_dir.resolve() != components.scheduler_dir.resolve():
        _copy_files(components.noise_scheduler_dir, folder / "noise" / "scheduler", ["*.json"])
        ids["noise_scheduler_id"] = "noise"
    return ids


def save_pretrained(model: UniImageModel, components: Components, folder: str | Path, max_shard_size: int = 5 * 1024**3):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = save_components(components, folder)
    # The model's own MLLM config, not the source folder's: a model grown or reshaped after loading
    # (e.g. the demo's answer layers) must be described by what it is now.
    model.mllm.config.to_json_file(folder / "mllm" / "config.json")
    save_published_weights(model, folder, max_shard_size)
    config = replace(model.config, **ids, extra={"architectures": ["TBACUniImagePipeline"], **model.config.extra})
    config.to_json_file(folder / CONFIG_FILE)


def from_components(mllm: str, diffusion: str, vae: str | None = None, scheduler: str | None = None,
                    torch_dtype: torch.dtype = torch.float32, seed: int = 0, **config_fields):
    """A fresh UniImage model from pretrained bases (what training stage 1 starts from): the MLLM and
    the SANA transformer / VAE keep their pretrained weights; connector and queries are new.
    `mllm` is a Qwen2.5-VL folder or hub id, `diffusion` a SANA diffusers folder or hub id."""
    from diffusers import AutoencoderDC
    from transformers import Qwen2_5_VLForConditionalGeneration

    from ..models.connector import Connector
    from ..models.sana import LadderSanaTransformer

    torch.manual_seed(seed)
    components_config = UniImageConfig(mllm_id=mllm, diffusion_model_id=diffusion, vae_id=vae, scheduler_id=scheduler,
                                       **config_fields)
    components = load_components(components_config, [Path.cwd()])
    patterns = ["*.safetensors", "*.json"]
    mllm_dir = resolve(mllm, [Path.cwd()], patterns + ["*.txt", "*.jinja"])
    diffusion_dir = resolve(diffusion, [Path.cwd()], ["transformer/*", "vae/*", "scheduler/*"])
    vae_dir = resolve(components_config.vae_id, [Path.cwd()], ["vae/*"])
    try:
        qwen = Qwen2_5_VLForConditionalGeneration.from_pretrained(mllm_dir, dtype=torch_dtype, use_safetensors=True)
        transformer = LadderSanaTransformer.from_pretrained(diffusion_dir, subfolder="transformer", torch_dtype=torch_dtype, use_safetensors=True)
        vae_model = AutoencoderDC.from_pretrained(vae_dir, subfolder="vae", torch_dtype=torch_dtype, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot load base component weights: {e}") from e
    config = UniImageConfig(**{**components_config.__dict__, "extra": {}})
    latent = vae_model.config
    config.in_channels = latent.latent_channels
    config.vae_downsample_f = 2 ** (len(latent.encoder_block_out_channels) - 1)
    config.input_size = transformer.config.sample_size
    connector = Connector(qwen.config.text_config.hidden_size, transformer.config.caption_channels).to(torch_dtype)
    model = UniImageModel(config, qwen, transformer, vae_model, connector)
    model.query_embedding.reset_queries()
    return model.eval(), build_processor(config, components), components
