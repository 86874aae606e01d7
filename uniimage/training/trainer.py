"""The training loop, on accelerate: one process, or many under torchrun / `accelerate launch`
(DDP by default; FSDP / DeepSpeed ZeRO-2 through an accelerate config file).

    batch   -> MLLM prompt rows (captions, source images)  -> condition (ladder)   [grad: queries, connector]
    target  -> VAE (frozen) -> x0; noise, t -> x_t          -> DiT velocity          [grad: DiT]
    loss    =  flow matching (loss.py); AdamW, warmup + cosine, clipping
               (or, with optim.in_backward, AdamW per parameter inside the backward: in_backward.py)

Noise and timesteps of a micro-step are drawn for the whole global batch from a generator seeded by
(seed, step, micro-step); each rank takes its own rows. With the data split by rank (rank r holds
rows r, r+W, ...), N processes see exactly the numbers one process with the same global batch sees,
and a resumed run draws what the straight run drew.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, DistributedType, parse_flag_from_env, set_seed
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..errors import CheckpointError, ConfigError
from ..pipelines.schedulers import load_noise_schedule
from ..utils.dtypes import torch_dtype
from . import checkpointing as ckpt
from .condition_cache import ConditionCache, check_condition_frozen
from .config import TrainConfig, config_differences, fingerprint, load_config
from .data import build_batches, build_stream, use_latent_caches
from .ema import TrainableEMA
from .freeze import apply_freeze
from .frozen_storage import check_layerwise_casting, store_frozen, uses_layerwise_casting
from .in_backward import StepInBackward, check_single_process
from .loss import FlowMatchingLoss
from .model_source import load_model
from .monitor import Monitor
from .optim import build_optimizer, build_scheduler, trainable_by_part
from .rehearsal import RehearsalData, lm_loss, next_lm_inputs

log = logging.getLogger(__name__)


class FlowMatchingModule(nn.Module):
    """Latents, condition, DiT and loss in one forward: DDP / FSDP / DeepSpeed see every trainable
    parameter used, and under FSDP the frozen VAE's sharded weights are gathered like the rest."""

    def __init__(self, model, loss_fn: FlowMatchingLoss):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, input_ids, attention_mask, pixel_values, image_grid_thw, x0, noise, indices, encode: bool,
                lm: dict | None = None, condition: tuple | None = None):
        if encode:  # x0 holds target pixels: the frozen VAE, in its own dtype (autocast off)
            with torch.no_grad(), torch.autocast(x0.device.type, enabled=False):
                x0 = self.model.encode_latents(x0)
        noised = self.loss_fn.noise(x0, noise, indices)
        if condition is None:
            condition = self.model.encode_condition(input_ids, attention_mask, pixel_values, image_grid_thw)
        condition, mask = condition  # (a frozen condition may come from the trainer's ConditionCache)
        prediction = self.model(noised.noisy, noised.timesteps, condition.to(noised.noisy.dtype), mask)
        loss = self.loss_fn(prediction, noised)
        if lm is None:
            return loss
        return loss, lm_loss(self.model.mllm, lm)  # rehearsal: in this forward, for DDP's sake


def make_accelerator(config: TrainConfig) -> Accelerator:
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() else "no"  # fp32 on CPU
    if not torch.cuda.is_available() and parse_flag_from_env("ACCELERATE_USE_DEEPSPEED"):
        # accelerate would quietly train plain DDP on CPU: an unsharded run the user did not ask for.
        raise ConfigError("the launch config asks for DeepSpeed, but no CUDA device is available: uniimage runs "
                          "DeepSpeed ZeRO on GPUs only (on CPU use the DDP or FSDP launch configs)")
    ddp = DistributedDataParallelKwargs(find_unused_parameters=False)
    # cpu=True on CPU-only machines: accelerate then runs torchrun's processes as gloo DDP.
    acc = Accelerator(mixed_precision=precision, gradient_accumulation_steps=config.grad_accum, kwargs_handlers=[ddp],
                      cpu=not torch.cuda.is_available())
    if acc.distributed_type == DistributedType.MULTI_CPU and parse_flag_from_env("ACCELERATE_USE_FSDP"):
        enable_cpu_fsdp(acc)
    return acc


def enable_cpu_fsdp(acc: Accelerator) -> None:
    """FSDP over gloo on CPU processes. accelerate (1.15) turns `ACCELERATE_USE_FSDP` / an fsdp config into
    FSDP only for accelerator devices and silently falls back to DDP on CPU, although FSDP2's fully_shard
    runs there: switch the shared state to FSDP with the plugin the FSDP_* variables describe."""
    from accelerate import PartialState
    from accelerate.utils import FullyShardedDataParallelPlugin

    plugin = FullyShardedDataParallelPlugin()
    if plugin.fsdp_version != 2:
        raise ConfigError("FSDP on CPU processes needs FSDP2 (fsdp_version: 2 / FSDP_VERSION=2)")
    acc.state.fsdp_plugin = plugin
    acc.state.distributed_type = PartialState._shared_state["distributed_type"] = DistributedType.FSDP


class Trainer:
    def __init__(self, config: TrainConfig, accelerator: Accelerator | None = None):
        self.config = config
        self.acc = acc = accelerator or make_accelerator(config)
        self.out = Path(config.output_dir)
        self.rank, self.world = acc.process_index, acc.num_processes
        if config.optim.in_backward:  # before the model is built: a refused run fails at once
            check_single_process(self.world, acc.distributed_type, acc.mixed_precision)
        self.layerwise = uses_layerwise_casting(torch_dtype(config.frozen_dtype), acc.mixed_precision)
        if self.layerwise:
            check_layerwise_casting(config.gradient_checkpointing, self.world, acc.distributed_type, config.frozen_dtype)
        self.resume_from = self._resume_folder()
        set_seed(config.seed)
        self._build_model()  # builds self.loss_fn too (its noise schedule comes with the model)
        self.step, self.samples = 0, 0
        if self.resume_from is not None:
            self._restore(self.resume_from)

    # ---- setup ----
    def _resume_folder(self) -> Path | None:
        """The checkpoint to continue from, after checking it belongs to this config."""
        c = self.config
        existing = ckpt.latest_checkpoint(self.out)
        if c.resume is None:
            if existing is not None:
                raise ConfigError(f"{self.out} already holds {existing.name}: resume it (--resume / resume=auto) "
                                  "or choose another output_dir")
            return None
        folder = existing if c.resume == "auto" else Path(c.resume).expanduser()
        if folder is None:
            return None  # auto, and nothing to resume: a fresh start
        if not ckpt.is_checkpoint(folder):
            raise CheckpointError(f"resume folder {folder} is not a training checkpoint")
        saved = load_config(folder / "config.yaml")
        diff = config_differences(saved.fingerprint_dict(), c.fingerprint_dict())
        if diff:
            raise ConfigError(f"cannot resume from {folder}: it was written by a different training config "
                              f"(differs in: {', '.join(diff)})")
        state = ckpt.read_training_state(folder)
        if state["world_size"] != self.world:
            raise ConfigError(f"cannot resume from {folder}: saved by {state['world_size']} processes, this run has {self.world} "
                              "(each rank's data position is its own)")
        return folder

    def _build_model(self):
        c = self.config
        model, self.processor, self.components = load_model(c.model, torch.float32)
        self.loss_fn = FlowMatchingLoss(c.loss, schedule=load_noise_schedule(self.components.noise_scheduler_dir))
        self.trainable_names = apply_freeze(model, c.freeze)
        self.model = model
        self.condition_cache = None
        if c.condition_cache:
            check_condition_frozen(self.trainable_names)
            if self.acc.distributed_type == DistributedType.FSDP:  # its MLLM weights live sharded inside the module
                raise ConfigError("condition_cache does not work with FSDP: use DDP or DeepSpeed, or condition_cache: 0")
            self.condition_cache = ConditionCache(c.condition_cache)
        self._build_data()  # before any dtype change: a latent cache is checked against the float32 VAE
        frozen_dtype = torch_dtype(c.frozen_dtype)
        if self.layerwise:  # stored in frozen_dtype, each layer upcast to float32 for its forward (frozen_storage.py)
            store_frozen(model, frozen_dtype)
        elif frozen_dtype != torch.float32:  # computed under autocast
            for p in model.parameters():
                if not p.requires_grad and p.is_floating_point():
                    p.data = p.data.to(frozen_dtype)  # trainable weights stay fp32 (optimizer master copy)
        if c.gradient_checkpointing:
            # Layerwise casting: recompute each layer to its end, where its hook casts it back to storage.
            kwargs = {"use_reentrant": False, **({"early_stop": False} if self.layerwise else {})}
            mllm = model.mllm
            if hasattr(mllm, "activation_checkpointing_enable"):  # transformers >= 5.x name
                mllm.activation_checkpointing_enable(kwargs)
            else:
                mllm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
            model.transformer.enable_gradient_checkpointing(functools.partial(checkpoint, **kwargs)
                                                            if self.layerwise else None)
        if c.compile:  # in place (nn.Module.compile): parameter names, checkpoints and export are unchanged
            model.transformer.compile_repeated_blocks(backend=c.compile, dynamic=False)
        model.train()  # HF gradient checkpointing only acts in train mode; the MLLM has no dropout
        model.vae.eval()
        self._prepare()

    def _prepare(self):
        c, acc = self.config, self.acc
        # One param group per part only when parts learn at their own LR: the published single group otherwise.
        params = trainable_by_part(self.model) if c.optim.part_lr else [p for p in self.model.parameters() if p.requires_grad]
        optimizer = build_optimizer(params, c.optim)
        self.scheduler = build_scheduler(optimizer, c.optim, c.max_steps)
        if acc.distributed_type == DistributedType.DEEPSPEED:
            # No dataloader goes through prepare(): DeepSpeed needs the micro batch stated.
            acc.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = c.batch_size
        # The LR scheduler is stepped by hand, once per optimizer step: accelerate's wrapper would step it
        # once per process, and 1 vs N processes would diverge.
        self.module, self.optimizer = acc.prepare(FlowMatchingModule(self.model, self.loss_fn), optimizer)
        # FSDP replaces the parameters with sharded ones: clip what the optimizer now holds.
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.ema = None
        if c.ema is not None:
            if self.sharded:
                raise ConfigError("ema: is not supported with FSDP or DeepSpeed yet (the average would need the "
                                  "sharded weights gathered every step); train with DDP or drop ema:")
            self.ema = TrainableEMA(self._trainable_state(), c.ema)  # unsharded: the parameters themselves

    def _build_data(self):
        c, acc = self.config, self.acc
        image_size = c.data.image_size or self.model.config.image_size
        stream = build_stream(c.data, self.out, image_size, c.seed, self.rank, self.world,
                              is_main=acc.is_main_process, barrier=acc.wait_for_everyone)
        self.latent_cache = use_latent_caches(stream, self.model)
        self.batches = build_batches(c.data, stream, c.batch_size, c.seed * 7919 + self.rank)
        self.rehearsal = None
        if c.rehearsal is not None:
            self.rehearsal = RehearsalData(c.rehearsal.path, c.rehearsal.batch_size, c.seed, self.rank, self.world)

    # ---- one micro-step ----
    def draws(self, step: int, micro: int, shape) -> tuple[torch.Tensor, torch.Tensor]:
        """Timestep indices and noise of this rank's rows, cut from the global batch's draws."""
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + step * 1009 + micro)
        total = shape[0] * self.world
        indices = self.loss_fn.sample_indices(total, gen)
        noise = torch.randn((total, *shape[1:]), generator=gen)
        return indices[self.rank :: self.world], noise[self.rank :: self.world]

    def x0_input(self, batch: dict) -> tuple[torch.Tensor, bool, tuple]:
        """(cached latents or target pixels, whether the VAE must encode them, the latents' shape)."""
        if "latent" in batch:
            x = batch["latent"].to(self.acc.device, torch.float32)
            return x, False, tuple(x.shape)
        x = batch["target"].to(self.acc.device)
        f, c = self.model.config.vae_downsample_f, self.model.config.in_channels
        return x, True, (x.shape[0], c, x.shape[2] // f, x.shape[3] // f)

    def mllm_inputs(self, batch: dict):
        """Prompt rows in the published format; -> (inputs, pixel values in the vision tower's dtype)."""
        inputs = self.processor.generation_inputs(batch["caption"], batch["source_images"]).to(self.acc.device)
        pixels = inputs.pixel_values
        if pixels is not None:
            pixels = pixels.to(self.model.mllm.model.visual.patch_embed.proj.weight.dtype)
        return inputs, pixels

    def _loss(self, batch: dict, noise: torch.Tensor | None, indices: torch.Tensor | None, gen=None, lm=None):
        x, encode, shape = self.x0_input(batch)
        if noise is None:  # fixed draws of `gen` (validation)
            noise, indices = torch.randn(shape, generator=gen), self.loss_fn.sample_indices(shape[0], gen)
        prompt, condition = (None, None, None, None), None
        if self.condition_cache is not None:
            condition = self.condition_cache(batch["caption"], batch["source_images"], self.encode_condition)
        else:
            inputs, pixels = self.mllm_inputs(batch)
            prompt = (inputs.input_ids, inputs.attention_mask, pixels, inputs.image_grid_thw)
        with self.acc.autocast():
            return self.module(*prompt, x, noise, indices, encode, lm, condition)

    def encode_condition(self, captions: list[str], images: list[list]):
        """(condition, mask) of these prompt rows, computed outside the wrapped module (the cache's misses)."""
        inputs, pixels = self.mllm_inputs({"caption": captions, "source_images": images})
        with self.acc.autocast():
            return self.model.encode_condition(inputs.input_ids, inputs.attention_mask, pixels, inputs.image_grid_thw)

    def micro_step(self, batch: dict, micro: int) -> torch.Tensor:
        _, _, shape = self.x0_input(batch)
        indices, noise = self.draws(self.step, micro, shape)
        lm = None
        if self.rehearsal is not None:
            lm = {k: v.to(self.acc.device) for k, v in next_lm_inputs(self.rehearsal, self.processor).items()}
        output = self._loss(batch, noise, indices, lm=lm)
        loss, rehearsal = output if lm is not None else (output, None)
        total = loss if rehearsal is None else loss + self.config.rehearsal.weight * rehearsal
        self.acc.backward(total)
        if rehearsal is not None:
            self.lm_losses.append(rehearsal.detach())
        return loss.detach()

    def in_backward_hooks(self):
        """optim.in_backward: the per-parameter step hooks, on for one micro-step (so none outlives train())."""
        if not self.config.optim.in_backward:
            return contextlib.nullcontext()
        return StepInBackward(getattr(self.optimizer, "optimizer", self.optimizer), self.params)  # accelerate's wrapper off

    @torch.no_grad()
    def fixed_loss(self, batch: dict, seed: int = 0) -> float:
        """Loss of `batch` with noise and timesteps from `seed`: comparable across steps (validation)."""
        return self._loss(batch, None, None, torch.Generator().manual_seed(seed)).item()

    # ---- the loop ----
    def train(self, until: int | None = None) -> dict:
        """Train to max_steps (or stop after step `until`, as an interrupted run would). Returns the last
        logged scalars, plus `losses` (one per optimizer step, mean over ranks)."""
        c, acc = self.config, self.acc
        stop = min(c.max_steps, until or c.max_steps)
        monitor = Monitor(self.out, self.step, c.max_steps, acc.is_main_process, c.log.tensorboard, c.log.progress)
        losses, scalars, window = [], {}, []
        self.lm_losses = []  # rehearsal's LM loss since the last log
        try:
            while self.step < stop:
                step_losses, grad_norm = [], None
                for micro in range(c.grad_accum):
                    with acc.accumulate(self.module), self.in_backward_hooks():
                        step_losses.append(self.micro_step(next(self.batches), micro))
                        if c.optim.in_backward:
                            continue  # the hooks stepped every parameter during backward; no norm (logged nan)
                        if acc.sync_gradients:
                            # max_grad_norm 0 / null: measured, not clipped (an infinite bound scales by exactly 1)
                            grad_norm = acc.clip_grad_norm_(self.params, c.optim.max_grad_norm or math.inf)
                        self.optimizer.step()
                        self.optimizer.zero_grad(set_to_none=True)
                self.scheduler.step()
                if self.ema is not None:
                    self.ema.step()
                self.step += 1
                self.samples += c.batch_size * c.grad_accum * self.world
                loss = acc.reduce(torch.stack(step_losses).mean(), reduction="mean").item()
                losses.append(loss)
                window.append(loss)
                monitor.step(c.batch_size * c.grad_accum * self.world)
                if self.step % c.log.every == 0 or self.step == stop:
                    gn = float(grad_norm) if grad_norm is not None else float("nan")
                    skipped = self.batches.stats.skipped  # this rank's corrupt / missing / too small, all its workers
                    logged = {"loss": sum(window) / len(window), "lr": float(self.scheduler.get_last_lr()[0]),
                              "grad_norm": gn, "data_skipped": skipped}
                    if self.lm_losses:
                        logged["lm_loss"] = torch.stack(self.lm_losses).mean().item()
                        self.lm_losses = []
                    scalars = monitor.log(self.step, logged, acc.device)
                    window = []
                if c.eval.every and self.step % c.eval.every == 0:
                    self.sample(monitor)
                if self.step % c.checkpoint.every == 0 or self.step == c.max_steps:
                    self.save()
        finally:
            monitor.close()
        stats = self.batches.stats
        if stats.skipped:
            log.warning("rank %d skipped %d unusable samples: %s", self.rank, stats.skipped, stats.as_dict())
        return dict(scalars, losses=losses)

    # ---- sample grids ----
    def sample(self, monitor: Monitor | None = None):
        if not self.acc.is_main_process or self.acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
            self.acc.wait_for_everyone()
            return None
        from .sampling import grid_array, sample_grid

        with self.acc.autocast():
            grid = sample_grid(self.model, self.processor, self.components, self.config.eval, self.out)
        if grid is not None:
            (self.out / "samples").mkdir(parents=True, exist_ok=True)
            grid.save(self.out / "samples" / f"step-{self.step:07d}.png")
            if monitor is not None:
                monitor.image("samples", grid_array(grid), self.step)
        self.acc.wait_for_everyone()
        return grid

    # ---- checkpoints ----
    @property
    def sharded(self) -> bool:
        """DeepSpeed ZeRO / FSDP: optimizer state (FSDP: weights too) is split over ranks."""
        return self.acc.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)

    def _trainable_state(self) -> dict:
        if self.acc.distributed_type == DistributedType.FSDP:  # gather full weights (collective)
            full = self.acc.get_state_dict(self.module)
            return {n: full[f"model.{n}"] for n in self.trainable_names} if self.acc.is_main_process else {}
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def _main_state(self, trainable: dict) -> dict:
        return {
            "trainable": trainable,
            "optimizer": None if self.sharded else self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": None if self.ema is None else self.ema.weights(),
            "config_yaml": self.config.to_yaml(),
            "training_state": {"step": self.step, "samples": self.samples, "world_size": self.world,
                               "fingerprint": fingerprint(self.config), "trainable": self.trainable_names,
                               "ema_updates": None if self.ema is None else self.ema.updates},
        }

    def save(self) -> Path:
        acc = self.acc

        def any_failed(failed: bool) -> bool:
            flag = torch.tensor([1.0 if failed else 0.0], device=acc.device)
            return bool(acc.reduce(flag, reduction="sum").item() > 0)

        rank_state = {"rng": ckpt.rng_state(), "data": self.batches.state_dict()}
        if self.rehearsal is not None:
            rank_state["rehearsal"] = self.rehearsal.state_dict()
        if self.sharded:
            rank_state["optimizer"] = self.optimizer.state_dict()  # this rank's shard
        trainable = self._trainable_state()
        return ckpt.save_checkpoint(self.out, self.step, rank=self.rank, world_size=self.world, rank_state=rank_state,
                                    main_state=lambda: self._main_state(trainable), keep=self.config.checkpoint.keep,
                                    barrier=acc.wait_for_everyone, any_failed=any_failed)

    def _restore(self, folder: Path):
        state = ckpt.read_training_state(folder)
        weights = ckpt.load_trainable(folder)
        params = dict(self.model.named_parameters())
        if set(weights) != set(self.trainable_names):
            raise CheckpointError(f"{folder}: its trainable weights do not match this run's freeze policy")
        with torch.no_grad():
            for name in sorted(weights):  # sorted: under FSDP each copy is a collective, same order on every rank
                load_into(params[name], weights[name])
        self.optimizer.load_state_dict(ckpt.load_part(folder, f"optimizer/rank-{self.rank}.pt" if self.sharded else "optimizer"))
        self.scheduler.load_state_dict(ckpt.load_part(folder, "scheduler"))
        self.batches.load_state_dict(ckpt.load_part(folder, f"data/rank-{self.rank}"))
        ckpt.set_rng_state(ckpt.load_part(folder, f"rng/rank-{self.rank}"))
        if self.rehearsal is not None:
            self.rehearsal.load_state_dict(ckpt.load_part(folder, f"rehearsal/rank-{self.rank}"))
        if self.ema is not None:
            self.ema.load(folder, int(state["ema_updates"]))
        self.step, self.samples = int(state["step"]), int(state["samples"])
        if self.acc.is_main_process:
            log.info("resumed from %s at step %d", folder, self.step)


def load_into(param: torch.Tensor, full: torch.Tensor) -> None:
    """Copy a full saved tensor into a parameter, or into this rank's shard of an FSDP2 (DTensor) one."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    if isinstance(param, DTensor):
        shard = distribute_tensor(full.to(param.dtype), param.device_mesh, param.placements).to_local()
        param.to_local().copy_(shard)
    else:
        param.copy_(full)


def train(config: TrainConfig, until: int | None = None) -> dict:
    return Trainer(config).train(until)
