"""UniImageConfig: the checkpoint's `config.json`, read and written in the published format.

Fields the published TBAC-UniImage config carries keep their names and meaning; fields we add
(`ladder`, `image_pixels`) default to the published behaviour, so a published config reads as is.
Unknown fields of a published config (e.g. `connector_num_hidden_layers`) are kept and written back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .errors import ConfigError

PUBLISHED_SYSTEM_PROMPT = (
    "You will be given an image or its caption. Please describe the content of the image in detail in your own words."
)
# Both names are accepted: the published training script used MetaQuery's classes, which save the same keys.
ACCEPTED_MODEL_TYPES = ("tbacuniimage", "metaquery")
REQUIRED_FIELDS = ("mllm_id", "diffusion_model_id", "num_metaqueries", "input_size", "in_channels", "vae_downsample_f")

LadderSpec = Union[str, list]


def check_interval(interval, name: str = "guidance_interval") -> tuple[float, float] | None:
    """None, or (lo, hi) with 0 <= lo < hi <= 1 in sigma (1: pure noise); anything else is refused, the message
    naming the setting as `name` (the config, the CLI and the HTTP API each name it their own way)."""
    if interval is None:
        return None
    try:
        lo, hi = (float(x) for x in interval)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (lo, hi), got {interval!r}") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"{name} must satisfy 0 <= lo < hi <= 1 (noise levels sigma), got ({lo}, {hi})")
    return lo, hi


@dataclass
class UniImageConfig:
    mllm_id: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    diffusion_model_id: str = "Efficient-Large-Model/Sana_1600M_512px_diffusers"
    vae_id: str | None = None  # defaults to diffusion_model_id (its `vae/` folder)
    scheduler_id: str | None = None  # sampler config folder (its `scheduler/`)
    noise_scheduler_id: str | None = None  # training noise schedule (same folder in the published model)
    num_metaqueries: int = 64
    input_size: int = 16  # latent side
    in_channels: int = 32  # latent channels
    vae_downsample_f: int = 32
    max_input_text_tokens: int = 256
    loss_type: str = "flow"
    system_prompt: str = PUBLISHED_SYSTEM_PROMPT
    model_type: str = "tbacuniimage"
    # Ours. Which MLLM hidden state feeds which DiT block: "ladder" (published), "final" or a list of indices.
    ladder: LadderSpec = "ladder"
    # Pixel budget of each input image at generation time (min = max), published: 256 * 28 * 28.
    image_pixels: int = 256 * 28 * 28
    # Sampling default: text/image guidance only at noise levels sigma in [lo, hi] (pipelines/guidance.py).
    # None (published): every step. Written to config.json only when set.
    guidance_interval: list | None = None
    extra: dict = field(default_factory=dict)  # fields we do not use, kept for round-trips

    def __post_init__(self):
        self.vae_id = self.vae_id or self.diffusion_model_id
        self.scheduler_id = self.scheduler_id or self.diffusion_model_id
        self.noise_scheduler_id = self.noise_scheduler_id or self.scheduler_id
        self.validate()

    def validate(self):
        if self.model_type not in ACCEPTED_MODEL_TYPES:
            raise ConfigError(f"config model_type {self.model_type!r} is not one of {ACCEPTED_MODEL_TYPES}")
        for name in ("num_metaqueries", "input_size", "in_channels", "vae_downsample_f", "max_input_text_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"config field {name} must be a positive integer, got {value!r}")
        if self.loss_type != "flow":
            raise ConfigError(f"config loss_type {self.loss_type!r} is not supported (only 'flow')")
        if not (self.ladder in ("ladder", "final") or isinstance(self.ladder, (list, tuple))):
            raise ConfigError(f"config ladder must be 'ladder', 'final' or a list of layer indices, got {self.ladder!r}")
        try:
            interval = check_interval(self.guidance_interval)
        except ValueError as e:
            raise ConfigError(f"config {e}") from None
        self.guidance_interval = list(interval) if interval else None

    @property
    def image_size(self) -> int:
        return self.input_size * self.vae_downsample_f

    # ---- dict / file I/O ----
    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides) -> "UniImageConfig":
        data = {**data, **overrides}
        missing = [k for k in REQUIRED_FIELDS if data.get(k) is None]
        if missing:
            raise ConfigError(f"checkpoint config lacks required field(s): {', '.join(missing)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names and k != "extra"}
        extra.update(data.get("extra") or {})
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "extra"}
        if out["guidance_interval"] is None:  # absent = published behaviour; keeps published configs byte-stable
            del out["guidance_interval"]
        out.update(self.extra)
        out["model_type"] = self.model_type
        return dict(sorted(out.items()))

    @classmethod
    def from_json_file(cls, path: str | Path, **overrides) -> "UniImageConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"config {path} is not a JSON object")
        return cls.from_dict(data, **overrides)

    def to_json_file(self, path: str | Path):
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
