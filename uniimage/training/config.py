"""Training config: YAML file + dotted `key=value` overrides -> typed, validated dataclasses.

Unknown keys and missing required fields are errors (a typo must not silently train the wrong thing).
Relative paths are taken from the working directory, and made absolute so checkpoints stay usable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ..errors import ConfigError
from ..utils.dtypes import DTYPE_NAMES

REQUIRED = object()  # default marking a field the YAML must give


@dataclass
class ModelSource:
    """Where the starting model comes from: exactly one of preset / pretrained / (mllm + diffusion)."""

    preset: Optional[str] = None  # "tiny", "small": seeded random weights
    pretrained: Optional[str] = None  # published-format folder, a training run folder, or one of its checkpoints
    mllm: Optional[str] = None  # fresh model: Qwen2.5-VL folder or hub id ...
    diffusion: Optional[str] = None  # ... plus a SANA diffusers folder or hub id
    seed: int = 0  # initialises the new parts (queries, connector; everything for presets)
    overrides: dict = field(default_factory=dict)  # UniImageConfig fields, e.g. {num_metaqueries: 64}
    # Fresh models only: how the query rows start. "random": around the vocabulary's statistics (as a
    # resized embedding's new rows); "zeros": all zero (their first attention is then uniform over the
    # prompt, a mean of it); "noise": zero-mean, `query_init_scale` x the vocabulary's per-channel std
    # (near-uniform attention, yet distinct tokens); "text": the embeddings of `query_init_text`'s tokens, cycled.
    query_init: str = "random"
    query_init_text: Optional[str] = None
    query_init_scale: float = 0.1

    def validate(self):
        given = [k for k in ("preset", "pretrained") if getattr(self, k)] + (["mllm+diffusion"] if self.mllm or self.diffusion else [])
        if len(given) != 1:
            raise ConfigError(f"model: give exactly one of preset, pretrained, or mllm + diffusion (got {given or 'none'})")
        if (self.mllm is None) != (self.diffusion is None):
            raise ConfigError("model: a fresh model needs both `mllm` and `diffusion`")
        if self.query_init not in ("random", "zeros", "noise", "text"):
            raise ConfigError(f"model.query_init must be random, zeros, noise or text, got {self.query_init!r}")
        if not self.query_init_scale > 0:
            raise ConfigError(f"model.query_init_scale must be > 0, got {self.query_init_scale}")
        if self.query_init != "random" and not (self.mllm or self.preset):
            raise ConfigError("model.query_init initialises new query rows: only for a fresh model (mllm + diffusion, or a preset)")
        if (self.query_init == "text") != (self.query_init_text is not None):
            raise ConfigError("model.query_init_text goes with (and only with) query_init: text")
        if self.query_init == "text" and not str(self.query_init_text):
            raise ConfigError("model.query_init_text is empty: give the text whose token embeddings start the queries")


@dataclass
class SyntheticData:
    """ShapesEval scenes rendered into the run folder (if absent): the tiny configs' self-made data."""

    n_t2i: int = 64
    n_edit: int = 0
    image_size: int = 32
    seed: int = 0
    folder: str = "data"  # under output_dir


@dataclass
class DataConfig:
    datasets: Optional[list] = None  # uniimage.data.build_dataset specs ({path, type, weight, ...})
    synthetic: Optional[SyntheticData] = None
    image_size: Optional[int] = None  # default: the model's (input_size * vae_downsample_f)
    cfg_dropout: Any = "auto"  # published rules: "t2i", "edit", "auto" (by sample kind) or null (off)
    mixture_until: str = "infinite"  # mixtures keep their weights as long-run proportions
    num_workers: int = 0  # DataLoader worker processes decoding and resizing (0: in the training process)
    prefetch_factor: int = 2  # batches each worker keeps ready
    pin_memory: Optional[bool] = None  # null: on when CUDA is available

    def validate(self):
        if self.num_workers < 0 or self.prefetch_factor < 1:
            raise ConfigError(f"data.num_workers must be >= 0 and data.prefetch_factor >= 1, got {self.num_workers}, {self.prefetch_factor}")
        if not self.datasets and self.synthetic is None:
            raise ConfigError("data: give `datasets` (a list of dataset specs) or `synthetic`")
        if self.datasets is not None and not all(isinstance(s, dict) for s in self.datasets):
            raise ConfigError("data.datasets must be a list of dataset specs ({path: ..., type: ...})")


@dataclass
class LoraSettings:
    targets: list = field(default_factory=lambda: ["dit"])  # "dit" and/or "mllm"
    rank: int = 16
    alpha: int = 16
    dropout: float = 0.0
    dit_modules: list = field(default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"])
    mllm_modules: list = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    def validate(self):
        bad = set(self.targets) - {"dit", "mllm"}
        if bad or not self.targets:
            raise ConfigError(f"freeze.lora.targets must be a non-empty subset of [dit, mllm], got {self.targets}")


@dataclass
class FreezeConfig:
    """Published default: queries, connector and DiT learn; VAE and MLLM (vocabulary included) frozen."""

    train_queries: bool = True
    train_connector: bool = True
    train_dit: bool = True
    mllm_last_layers: int = 0  # also train the deepest N MLLM layers the ladder uses
    lora: Optional[LoraSettings] = None  # adapters instead of full weights on the listed targets


MODEL_PARTS = ("mllm", "queries", "connector", "dit")  # trainable parts, by top-level module
OPTIMIZERS = ("adamw", "adamw8bit")  # adamw: the published recipe; adamw8bit: torchao's block-quantised state


@dataclass
class OptimConfig:
    # "adamw" (published: torch AdamW, float32 state) or "adamw8bit" (torchao.optim.AdamW8bit: both moments
    # stored as 8-bit codes + a float32 scale per block of 256 values, about a quarter of the memory;
    # `pip install uniimage[train-lowmem]`). Same hyperparameters, LR schedule, part LRs and clipping.
    name: str = "adamw"
    lr: float = 1e-4
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.05
    warmup_steps: int = 5000
    min_lr: float = 1e-5  # cosine ends here at max_steps
    max_grad_norm: Optional[float] = 0.5  # global-norm clipping; 0 or null: off (the norm is still logged)
    # Peak LR per model part (mllm, queries, connector, dit), overriding `lr` for that part; the warmup and
    # cosine scale every part alike (each ends at its own peak x min_lr / lr). Published: one LR for all.
    part_lr: dict[str, float] = field(default_factory=dict)
    # Step each parameter inside the backward pass, as soon as its gradient is complete, and free that
    # gradient there (training/in_backward.py): no full gradient buffer (4 bytes per trainable value) ever
    # lives. It needs every gradient alone, so: no global-norm clipping, no gradient accumulation, no fp16
    # loss scaling, one process. Off in the published recipe.
    in_backward: bool = False

    def validate(self):
        if self.max_grad_norm is not None and self.max_grad_norm < 0:
            raise ConfigError(f"optim.max_grad_norm must be >= 0 (0 or null: no clipping), got {self.max_grad_norm}")
        if self.name not in OPTIMIZERS:
            raise ConfigError(f"optim.name must be one of {', '.join(OPTIMIZERS)}, got {self.name!r}")
        unknown = set(self.part_lr) - set(MODEL_PARTS)
        if unknown:
            raise ConfigError(f"optim.part_lr has unknown parts {sorted(unknown)}; known: {', '.join(MODEL_PARTS)}")
        for part, lr in self.part_lr.items():
            if not isinstance(lr, (int, float)) or lr <= 0:
                raise ConfigError(f"optim.part_lr.{part} must be a positive number, got {lr!r}")


@dataclass
class LossConfig:
    timestep_sampling: str = "uniform"  # published; or "logit_normal", "mode" (SD3)
    logit_mean: float = 0.0
    logit_std: float = 1.0
    mode_scale: float = 1.29
    weighting: str = "none"  # published (plain MSE); or "sigma_sqrt", "cosmap" (SD3)

    def validate(self):
        if self.timestep_sampling not in ("uniform", "logit_normal", "mode"):
            raise ConfigError(f"loss.timestep_sampling must be uniform, logit_normal or mode, got {self.timestep_sampling!r}")
        if self.weighting not in ("none", "sigma_sqrt", "cosmap"):
            raise ConfigError(f"loss.weighting must be none, sigma_sqrt or cosmap, got {self.weighting!r}")


@dataclass
class CheckpointConfig:
    every: int = 1000  # optimizer steps
    keep: int = 3  # newest checkpoints kept


@dataclass
class LogConfig:
    every: int = 10
    tensorboard: bool = True
    progress: bool = True


@dataclass
class EvalConfig:
    every: int = 0  # 0: no sample grids
    prompts: list = field(default_factory=list)
    edits: list = field(default_factory=list)  # [{prompt, image}] (image relative to output_dir) or {from_data: N}
    steps: int = 20
    guidance: float = 4.5
    image_guidance: float = 1.5
    seed: int = 0


@dataclass
class RehearsalConfig:
    """Language-model rehearsal beside the generation loss (training/rehearsal.py): for runs that train MLLM
    weights, so it keeps answering questions. Off in the published recipe (its MLLM is frozen)."""

    path: str = REQUIRED  # JSONL of {image, question, answer} rows (ShapesEval's *_vqa.jsonl)
    weight: float = 1.0  # loss = flow matching + weight x LM cross-entropy on the answers
    batch_size: int = 8  # rows per micro-step, per process

    def validate(self):
        if not self.weight > 0 or self.batch_size < 1:
            raise ConfigError(f"rehearsal.weight must be > 0 and rehearsal.batch_size >= 1 (got {self.weight}, {self.batch_size})")
        self.path = str(Path(self.path).expanduser().resolve())


@dataclass
class EMAConfig:
    """An exponential moving average of the trainable weights (training/ema.py; diffusers' EMAModel).
    Off in the published recipe. The decay ramps up from 0 (diffusers' schedules), then stays at `decay`."""

    decay: float = 0.9999
    start_step: int = 0  # optimizer steps before the average starts following the weights
    warmup: bool = False  # True: 1 - (1 + step / inv_gamma) ** -power; False: (1 + step) / (10 + step)
    inv_gamma: float = 1.0
    power: float = 2 / 3

    def validate(self):
        if not 0.0 < self.decay < 1.0:
            raise ConfigError(f"ema.decay must be between 0 and 1 (exclusive), got {self.decay}")
        if self.start_step < 0 or self.inv_gamma <= 0 or self.power <= 0:
            raise ConfigError("ema.start_step must be >= 0, ema.inv_gamma and ema.power > 0")


@dataclass
class TrainConfig:
    output_dir: str = REQUIRED
    model: ModelSource = REQUIRED
    data: DataConfig = REQUIRED
    max_steps: int = REQUIRED  # optimizer steps; also the length of the cosine schedule
    batch_size: int = 1  # per process, per micro-step ("batch / GPU" of the recipe)
    grad_accum: int = 1
    seed: int = 0
    precision: str = "auto"  # auto: bf16 on GPU, fp32 (no autocast) on CPU; or "no", "bf16", "fp16"
    frozen_dtype: str = "float32"  # bf16: frozen weights stored in bf16; computed under autocast, or with precision "no" upcast per layer (frozen_storage.py)
    gradient_checkpointing: bool = False  # MLLM and DiT
    # torch.compile backend for the DiT's repeated block (regional: one compile serves every block), e.g.
    # "inductor"; null: eager. Measured 0.92x (slower) on the demo's CPU stage 1 (docs/performance.md).
    compile: Optional[str] = None
    # Prompt rows whose condition is kept between steps (0: off), only while the MLLM, query rows and connector
    # are frozen (condition_cache.py): a step then runs the MLLM only for rows (caption + input image pixels) it
    # has not seen. About 60 KB a row at the demo's size; the 3B model's 64 x 2240 x 28 floats are about 16 MB.
    condition_cache: int = 0
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rehearsal: Optional[RehearsalConfig] = None  # LM loss on question-answer rows in the same steps
    ema: Optional[EMAConfig] = None  # a moving average of the trainable weights, exported by default
    resume: Optional[str] = None  # null, "auto" (newest checkpoint in output_dir, if any) or a checkpoint folder

    def validate(self):
        for name in ("max_steps", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.condition_cache < 0:
            raise ConfigError(f"condition_cache must be >= 0 (0: off), got {self.condition_cache}")
        if self.precision not in ("auto", "no", "bf16", "fp16"):
            raise ConfigError(f"precision must be auto, no, bf16 or fp16, got {self.precision!r}")
        if self.frozen_dtype not in DTYPE_NAMES:
            raise ConfigError(f"frozen_dtype must be one of {', '.join(DTYPE_NAMES)}, got {self.frozen_dtype!r}")
        if self.compile is not None:
            self._check_compile()
        if self.checkpoint.every < 1 or self.checkpoint.keep < 1:
            raise ConfigError("checkpoint.every and checkpoint.keep must be >= 1")
        self.model.validate()
        self.data.validate()
        self.loss.validate()
        self.optim.validate()
        if self.freeze.lora is not None:
            self.freeze.lora.validate()
        if self.rehearsal is not None:
            self.rehearsal.validate()
        if self.ema is not None:
            self.ema.validate()
        if self.optim.in_backward:
            self._check_in_backward()
        self.output_dir = str(Path(self.output_dir).expanduser().resolve())
        if self.model.pretrained and Path(self.model.pretrained).expanduser().exists():
            self.model.pretrained = str(pin_run_checkpoint(Path(self.model.pretrained).expanduser().resolve()))

    def _check_compile(self):
        import torch._dynamo

        backends = torch._dynamo.list_backends(exclude_tags=())
        if self.compile not in backends:
            raise ConfigError(f"compile must be null or a torch.compile backend ({', '.join(backends)}), "
                              f"got {self.compile!r}")

    def _check_in_backward(self):
        """What stepping inside the backward pass cannot do (the process count is checked by the trainer)."""
        if self.grad_accum > 1:
            raise ConfigError(f"optim.in_backward steps on each micro-step's gradient, so it cannot accumulate: "
                              f"grad_accum is {self.grad_accum}; set grad_accum: 1 (or in_backward: false)")
        if self.optim.max_grad_norm:
            raise ConfigError(f"optim.in_backward cannot clip by the global norm (optim.max_grad_norm: "
                              f"{self.optim.max_grad_norm}): that norm needs every gradient at once, and in_backward "
                              "steps and frees each one as it arrives; set optim.max_grad_norm: 0 (or in_backward: false)")
        if self.precision == "fp16":
            raise ConfigError("optim.in_backward does not work with precision: fp16 (its loss scaler checks every "
                              "gradient for inf before any step); use bf16 or no")

    # ---- I/O ----
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def fingerprint_dict(self) -> dict:
        """What must match for a resume: everything that changes the optimisation itself."""
        data = self.to_dict()
        for key in ("output_dir", "resume", "max_steps", "checkpoint", "log", "eval", "compile", "condition_cache"):
            data.pop(key)
        return data


def pin_run_checkpoint(path: Path) -> Path:
    """A previous run's folder -> its newest checkpoint, now: a later resume of this run must start from
    the same weights even if that run has saved more checkpoints since (the fingerprint then differs)."""
    from .checkpointing import is_checkpoint, latest_checkpoint

    if path.is_dir() and not is_checkpoint(path):
        return latest_checkpoint(path) or path
    return path


# ---- generic dict -> dataclass, strict ----
def _is_optional(tp) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return True, args[0] if len(args) == 1 else Any
    return False, tp


def _coerce(value, tp, where: str):
    optional, tp = _is_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where} must not be null")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        try:  # YAML reads 1e-4 (no dot) as a string
            return float(value) if not isinstance(value, bool) else _fail(where, "a number", value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, bool):  # YAML 1.1: unquoted no / yes / off / on are booleans
            raise ConfigError(f"{where} must be a string, got {value!r} (YAML reads an unquoted no, yes, off or on "
                              f"as a boolean: quote it, e.g. {where}: \"no\")")
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    if tp is list and not isinstance(value, list):
        raise ConfigError(f"{where} must be a list, got {value!r}")
    if (tp is dict or typing.get_origin(tp) is dict) and not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping, got {value!r}")
    if typing.get_origin(tp) is dict:  # typed values: overrides arrive as strings
        key_type, value_type = typing.get_args(tp)
        return {k: _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    return value


def _fail(where, what, value):
    raise ConfigError(f"{where} must be {what}, got {value!r}")


def from_dict(cls, data, where: str = ""):
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)} (known: {', '.join(sorted(names))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name], key)
        elif f.default is REQUIRED:
            raise ConfigError(f"config is missing required field `{key}`")
    obj = cls(**kwargs)
    if hasattr(obj, "validate") and not where:
        obj.validate()
    return obj


# ---- overrides and loading ----
def apply_override(data: dict, item: str) -> None:
    """`a.b.c=value` sets data[a][b][c]; the value is parsed as YAML (numbers, lists, null...)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = _child(node, part, key)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: bad value ({e})") from None
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, key)] = value
    else:
        node[last] = value


def _index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {key}: {part!r} is not an index of a {len(node)}-element list")
    return int(part)


def _child(node, part: str, key: str):
    """One step down a dotted key: list items by number (data.datasets.0.path), mappings by name."""
    if isinstance(node, list):
        return node[_index(node, part, key)]
    if not isinstance(node, dict):
        raise ConfigError(f"override {key}: {part} is not inside a mapping")
    if node.get(part) is None:
        node[part] = {}
    return node[part]


def load_config(path: str | Path | None = None, overrides: list[str] = (), data: dict | None = None) -> TrainConfig:
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"training config {path} not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"cannot parse {path}: {e}") from None
    data = json.loads(json.dumps(data or {}))  # deep copy, plain types
    for item in overrides:
        apply_override(data, item)
    return from_dict(TrainConfig, data)


def fingerprint(config: TrainConfig) -> str:
    text = json.dumps(config.fingerprint_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts (for a clear refusal message)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb, name = a.get(key), b.get(key), f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, name + ".")
        elif va != vb:
            out.append(name)
    return out
