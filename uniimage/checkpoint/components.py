"""Finding a checkpoint's parts: local folders (relative paths resolved like the original) or hub ids.

A published config names its base components by hub id (`mllm_id`, `diffusion_model_id`, ...); the
tiny fixture and our own saves name relative folders. Only the components' configs, tokenizer and
image-processor files are read from them: every weight comes from the checkpoint itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError

MLLM_FILES = ["*.json", "*.txt", "*.jinja", "*.model", "merges.txt", "vocab.json"]
DIFFUSION_FILES = ["transformer/config.json", "vae/config.json", "scheduler/*.json"]


def looks_like_hub_id(ref: str) -> bool:
    return ref.count("/") == 1 and not ref.startswith((".", "/", "~"))


def resolve(ref: str, search_dirs: list[Path], allow_patterns: list[str] | None = None) -> Path:
    """A local folder (as given, or relative to each of `search_dirs`), else a hub snapshot."""
    path = Path(ref).expanduser()
    candidates = [path] if path.is_absolute() else [d / path for d in search_dirs] + [path]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    if not looks_like_hub_id(ref):
        tried = ", ".join(str(c) for c in candidates)
        raise CheckpointError(f"{ref!r} is neither a local folder (tried {tried}) nor a hub id")
    return download(ref, allow_patterns)


def download(repo_id: str, allow_patterns: list[str] | None = None, local_dir: str | None = None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns, local_dir=local_dir))
    except Exception as e:  # offline, unknown repo, gated: one clear line
        raise CheckpointError(f"cannot get {repo_id!r} from the hub ({type(e).__name__}: {e}); "
                              "pass a local folder instead, or check the network") from e


@dataclass
class Components:
    """The configs and preprocessing a UniImage model is built from."""

    mllm_dir: Path
    mllm_config: object  # transformers Qwen2_5_VLConfig
    transformer_config: dict
    vae_config: dict
    scheduler_dir: Path
    noise_scheduler_dir: Path

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.mllm_dir)

    def image_processor(self):
        from transformers import AutoImageProcessor

        return AutoImageProcessor.from_pretrained(self.mllm_dir)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"missing component config {path}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e


def load_components(config, search_dirs: list[Path]) -> Components:
    from transformers import AutoConfig

    mllm_dir = resolve(config.mllm_id, search_dirs, MLLM_FILES)
    try:
        mllm_config = AutoConfig.from_pretrained(mllm_dir)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the MLLM config in {mllm_dir}: {e}") from e
    if mllm_config.model_type != "qwen2_5_vl":
        raise CheckpointError(f"{mllm_dir} holds a {mllm_config.model_type!r} model; UniImage needs Qwen2.5-VL")
    diffusion_dir = resolve(config.diffusion_model_id, search_dirs, DIFFUSION_FILES)
    vae_dir = resolve(config.vae_id, search_dirs, DIFFUSION_FILES)
    scheduler_dir = resolve(config.scheduler_id, search_dirs, DIFFUSION_FILES) / "scheduler"
    noise_dir = resolve(config.noise_scheduler_id, search_dirs, DIFFUSION_FILES) / "scheduler"
    return Components(
        mllm_dir=mllm_dir,
        mllm_config=mllm_config,
        transformer_config=_read_json(diffusion_dir / "transformer" / "config.json"),
        vae_config=_read_json(vae_dir / "vae" / "config.json"),
        scheduler_dir=scheduler_dir,
        noise_scheduler_dir=noise_dir,
    )
