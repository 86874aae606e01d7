"""UniImagePipeline: text (and images) in, images out; and questions about images answered.

    condition = model.encode_condition(prompt rows in CFG order)        # the ladder, once per call
                                                                         # (negative rows: once per model)
    x_T ~ N(0, I)
    for t in timesteps:
        v   = guided_prediction(model(x_t, t, condition))                # CFG
        x_t = scheduler.step(v, t, x_t)
    image = vae.decode(x_0 / scaling_factor)

A `diffusers.DiffusionPipeline`: components mllm, processor, connector, transformer, vae, scheduler;
`.to()`, `enable_model_cpu_offload()`, `enable_sequential_cpu_offload()`, `progress_bar`,
`callback_on_step_end`, `latents=` and precomputed conditions (`prompt_embeds`, ...) as in SanaPipeline.
`from_pretrained` / `save_pretrained` read and write the published checkpoint layout.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from accelerate.hooks import AlignDevicesHook, CpuOffload, SequentialHook
from diffusers import DiffusionPipeline
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils import BaseOutput
from PIL import Image

from ..config import UniImageConfig, check_interval
from ..errors import InputError
from ..models.uniimage import UniImageModel
from ..perf.buckets import DEFAULT_BUCKETS, bucket_size, pad_groups, pad_rows
from ..utils.images import load_image
from .condition_cache import ConditionCache, image_key, row_key, weights_fingerprint
from .guidance import guidance_groups, guided_prediction, guided_steps
from .schedulers import load_sampler

MAX_IMAGES_PER_PROMPT = 16
MAX_INPUT_IMAGES = 8
MAX_STEPS = 1000


@dataclass
class UniImagePipelineOutput(BaseOutput):
    images: list | np.ndarray | torch.Tensor


def offload_mode(module: torch.nn.Module) -> str | None:
    """'model' (enable_model_cpu_offload), 'sequential' (enable_sequential_cpu_offload) or None."""
    hook = getattr(module, "_hf_hook", None)
    if isinstance(hook, CpuOffload):
        return "model"
    hooks = hook.hooks if isinstance(hook, SequentialHook) else [hook]
    return "sequential" if any(isinstance(h, AlignDevicesHook) for h in hooks) else None


class UniImagePipeline(DiffusionPipeline):
    model_cpu_offload_seq = "mllm->connector->transformer->vae"
    # What `callback_on_step_end_tensor_inputs` may ask for. `denoised` is the clean-latent estimate
    # x0 = x_t - sigma_t * v of this step (decode it with `decode_latents` for a preview).
    _callback_tensor_inputs = ["latents", "denoised", "velocity", "prompt_embeds", "negative_prompt_embeds"]

    def __init__(self, mllm, processor, connector, transformer, vae, scheduler,
                 model_config: UniImageConfig | dict | None = None):
        super().__init__()
        if model_config is None:
            raise InputError("UniImagePipeline needs model_config (the checkpoint's UniImageConfig or its dict)")
        config = model_config if isinstance(model_config, UniImageConfig) else UniImageConfig.from_dict(dict(model_config))
        self.register_modules(mllm=mllm, processor=processor, connector=connector, transformer=transformer, vae=vae,
                              scheduler=scheduler)
        self.register_to_config(model_config=config.to_dict(), _name_or_path="")
        # The same modules, composed: what training and the conditioning code call.
        self.model = UniImageModel(config, mllm, transformer, vae, connector)
        self.image_processor = VaeImageProcessor(vae_scale_factor=config.vae_downsample_f)
        self.condition_cache = ConditionCache()
        self.sources = None  # where the base component folders are (checkpoint.components.Components)
        self._interrupt, self._guidance_scale, self._num_timesteps = False, 1.0, 0
        # Set by `compile()`: DiT and VAE batches are padded up to one of these sizes (perf/buckets.py).
        self.batch_buckets: tuple[int, ...] | None = None
        self.compile_options = None

    def __setattr__(self, name, value):
        # A component swapped on the pipeline (diffusers style) is swapped in the composed model too.
        if name in ("mllm", "connector", "transformer", "vae") and "model" in self.__dict__:
            setattr(self.model, name, value)
        super().__setattr__(name, value)

    @classmethod
    def from_model(cls, model: UniImageModel, processor, scheduler, sources=None, name_or_path: str = "") -> "UniImagePipeline":
        """A pipeline around an existing UniImageModel (training samples, benchmarks): no copy."""
        pipe = cls(model.mllm, processor, model.connector, model.transformer, model.vae, scheduler, model_config=model.config)
        pipe.model, pipe.sources = model, sources
        pipe.register_to_config(_name_or_path=name_or_path)
        return pipe

    # ---- loading / saving ----
    @classmethod
    def from_pretrained(cls, ref: str | Path, torch_dtype: torch.dtype | None = None, mllm_quantization: str | None = None,
                        **config_overrides) -> "UniImagePipeline":
        """A checkpoint folder, a hub id, or a preset name ('tiny', 'demo', 'tbac-uniimage-3b').
        Any config field (e.g. `mllm_id`, `diffusion_model_id`, `scheduler_id`) can be overridden.
        `mllm_quantization` '8bit' | '4bit' quantizes the MLLM onto the GPU (bitsandbytes, CUDA only)."""
        from ..models.quantization import check_quantization
        from ..presets import load_preset_or_checkpoint

        if mllm_quantization is not None:
            check_quantization(mllm_quantization, "cuda")  # fail before loading billions of weights
        model, processor, sources = load_preset_or_checkpoint(str(ref), torch_dtype or torch.float32, **config_overrides)
        pipe = cls.from_model(model, processor, load_sampler(sources.scheduler_dir), sources, str(ref))
        if mllm_quantization is not None:
            pipe.quantize_mllm(mllm_quantization)
        return pipe

    def save_pretrained(self, folder: str | Path, max_shard_size: int = 5 * 1024**3):
        """The published layout: config.json, sharded safetensors, the base component configs beside them."""
        from ..checkpoint.pretrained import save_pretrained

        if self.sources is None:
            raise InputError("this pipeline was built from modules, not loaded: save_pretrained needs the base "
                             "component folders (load it with from_pretrained, or set pipe.sources)")
        save_pretrained(self.model, self.sources, folder, max_shard_size)

    def remove_offload(self) -> "UniImagePipeline":
        """Undo enable_model_cpu_offload / enable_sequential_cpu_offload: hooks off, every weight in CPU memory."""
        self.remove_all_hooks()
        return self.to("cpu")

    @property
    def offload(self) -> str | None:
        return offload_mode(self.mllm)

    @property
    def default_height(self) -> int:
        return self.model.config.image_size

    @property
    def default_width(self) -> int:
        return self.model.config.image_size

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    # ---- input checks ----
    @staticmethod
    def _prompts(prompt) -> list[str]:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt) if isinstance(prompt, (list, tuple)) else None
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise InputError("prompt must be a string or a non-empty list of strings")
        return prompts

    @staticmethod
    def _images(image, batch: int) -> list[list[Image.Image]]:
        """None | one image | one per prompt | a list per prompt -> a list of RGB images per prompt."""
        if image is None:
            return [[] for _ in range(batch)]
        if not isinstance(image, (list, tuple)):
            image = [image] * batch if batch > 1 else [image]
        if len(image) != batch:
            raise InputError(f"got {len(image)} image entries for {batch} prompts; give one (or one list) per prompt")
        per_prompt = [list(x) if isinstance(x, (list, tuple)) else [x] for x in image]
        for ims in per_prompt:
            if len(ims) > MAX_INPUT_IMAGES:
                raise InputError(f"at most {MAX_INPUT_IMAGES} input images per prompt, got {len(ims)}")
        return [[load_image(x) for x in ims] for ims in per_prompt]

    def _check_size(self, height, width) -> tuple[int, int]:
        height, width = height or self.default_height, width or self.default_width
        f = self.model.config.vae_downsample_f * self.transformer.config.patch_size
        if height % f or width % f or height < f or width < f:
            raise InputError(f"height and width must be positive multiples of {f}, got {height}x{width}")
        return height, width

    def resolve_guidance_interval(self, guidance_interval=None) -> tuple[float, float] | None:
        """The interval a call guides in: `guidance_interval` if given, else the model config's; None means every
        step. The one place that rule lives (the CLI's PNG metadata and the server's default read it too)."""
        try:
            return check_interval(self.model.config.guidance_interval if guidance_interval is None else guidance_interval)
        except ValueError as e:
            raise InputError(str(e)) from None

    @staticmethod
    def _check_numbers(steps, guidance_scale, image_guidance_scale, n):
        if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise InputError(f"num_inference_steps must be an integer in 1..{MAX_STEPS}, got {steps!r}")
        if guidance_scale < 0 or image_guidance_scale < 0:
            raise InputError(f"guidance scales must be >= 0, got {guidance_scale} and {image_guidance_scale}")
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES_PER_PROMPT:
            raise InputError(f"num_images_per_prompt must be an integer in 1..{MAX_IMAGES_PER_PROMPT}, got {n!r}")

    def _check_condition(self, name: str, condition, mask, rows: int | None = None):
        """A precomputed condition [K, rows, N, caption_channels] and its mask [rows, N] (ones when None)."""
        K, C = self.transformer.num_blocks, self.transformer.config.caption_channels
        N = self.model.config.num_metaqueries
        if not isinstance(condition, torch.Tensor) or condition.ndim != 4 or condition.shape[0] != K \
                or condition.shape[2] != N or condition.shape[3] != C:
            got = tuple(condition.shape) if isinstance(condition, torch.Tensor) else type(condition).__name__
            raise InputError(f"{name} must be a tensor [{K}, rows, {N}, {C}] (one condition per DiT block), got {got}")
        if rows is not None and condition.shape[1] % rows:
            raise InputError(f"{name} has {condition.shape[1]} rows, not a multiple of the {rows} prompts")
        if mask is None:
            mask = torch.ones(condition.shape[1:3], dtype=torch.long)
        if tuple(mask.shape) != tuple(condition.shape[1:3]):
            raise InputError(f"{name} mask must be [{condition.shape[1]}, {N}], got {tuple(mask.shape)}")
        device = self._execution_device
        return condition.to(device, self.dtype), mask.to(device)

    # ---- conditioning ----
    def cfg_rows(self, prompts, negatives, images, guidance_scale, image_guidance_scale):
        """Captions and input images of every CFG row, group by group (see guidance.py)."""
        groups = guidance_groups(any(images), guidance_scale, image_guidance_scale)
        captions, row_images = [], []
        for use_caption, which in groups:
            captions += prompts if use_caption else negatives
            if which == "black":
                row_images += [[Image.new("RGB", im.size) for im in ims] for ims in images]
            else:
                row_images += images if which == "real" else [[] for _ in prompts]
        return captions, row_images, len(groups)

    @torch.no_grad()
    def encode_prompt(self, captions: list[str], images: list[list[Image.Image]], cacheable: Sequence[bool] | None = None):
        """MLLM rows -> (condition [K, rows, N, C], mask [rows, N]). Identical rows are computed once; rows
        flagged `cacheable` (the unconditional ones: the same every call) come from `condition_cache` when seen."""
        keys = [row_key(c, ims) for c, ims in zip(captions, images)]
        cacheable = list(cacheable) if cacheable is not None else [False] * len(keys)
        self.condition_cache.validate(self._weights_fingerprint())
        looked_up = {k: self.condition_cache.get(k) for k in dict.fromkeys(k for k, c in zip(keys, cacheable) if c)}
        done = {k: v for k, v in looked_up.items() if v is not None}
        todo = [i for i, k in enumerate(keys) if k not in done and keys.index(k) == i]
        if todo:
            condition, mask = self._encode_rows([captions[i] for i in todo], [images[i] for i in todo])
            for j, i in enumerate(todo):
                done[keys[i]] = condition[:, j], mask[j]
                if cacheable[i]:
                    self.condition_cache.put(keys[i], condition[:, j], mask[j])
        return torch.stack([done[k][0] for k in keys], dim=1), torch.stack([done[k][1] for k in keys])

    def encode_conditions(self, prompt=None, image=None, negative_prompt="", guidance_scale: float = 4.5,
                          image_guidance_scale: float = 1.5, prompt_embeds=None, prompt_attention_mask=None) -> dict:
        """The ladder conditions a call uses, for callers that keep them (SanaPipeline's `encode_prompt`):
        {prompt_embeds [K, B, N, C], prompt_attention_mask [B, N], negative_prompt_embeds [K, U*B, N, C],
        negative_prompt_attention_mask [U*B, N]}; U = 0, 1 or 2 unconditional groups in CFG order
        (editing with image guidance: negative + black images, then negative + the real images).
        Pass them back to `__call__` with the same scales."""
        if prompt_embeds is not None:
            if prompt is not None:
                raise InputError("give prompt or prompt_embeds, not both")
            prompt_embeds, prompt_attention_mask = self._check_condition("prompt_embeds", prompt_embeds, prompt_attention_mask)
            batch = prompt_embeds.shape[1]
        else:
            batch = len(self._prompts(prompt))
        negatives = [negative_prompt] * batch if isinstance(negative_prompt, str) else self._prompts(negative_prompt)
        if len(negatives) != batch:
            raise InputError(f"got {len(negatives)} negative prompts for {batch} prompts")
        images = self._images(image, batch)
        prompts = self._prompts(prompt) if prompt_embeds is None else [""] * batch
        captions, row_images, groups = self.cfg_rows(prompts, negatives, images, guidance_scale, image_guidance_scale)
        unconditional = (groups - 1) * batch
        todo = len(captions) if prompt_embeds is None else unconditional
        condition, mask = self.encode_prompt(captions[:todo], row_images[:todo],
                                             cacheable=[row < unconditional for row in range(todo)])
        if prompt_embeds is None:
            prompt_embeds, prompt_attention_mask = condition[:, unconditional:], mask[unconditional:]
        return dict(prompt_embeds=prompt_embeds, prompt_attention_mask=prompt_attention_mask,
                    negative_prompt_embeds=condition[:, :unconditional], negative_prompt_attention_mask=mask[:unconditional])

    def _encode_rows(self, captions: list[str], images: list[list[Image.Image]]):
        """The MLLM over these rows; the vision tower sees each distinct image once, however many rows hold it."""
        device = self._execution_device
        flat = [im for ims in images for im in ims]
        if not flat:
            inputs = self.processor.generation_inputs(captions, images).to(device)
            return self.model.encode_condition(inputs.input_ids, inputs.attention_mask)
        keys = [image_key(im) for im in flat]
        distinct = list(dict.fromkeys(keys))
        slot = torch.tensor([distinct.index(k) for k in keys])
        pixels, grid = self.processor.pixels([flat[keys.index(k)] for k in distinct], self.processor.image_pixels)
        features = self.model.image_features(pixels.to(device, self.dtype), grid.to(device))
        features.pooler_output = tuple(features.pooler_output[s] for s in slot.tolist())  # one entry per image slot
        # The same ids `processor.generation_inputs` gives, without preprocessing an image twice.
        ids, attention = self.processor.tokens(self.processor.generation_texts(captions, images), grid[slot])
        return self.model.encode_condition(ids.to(device), attention.to(device), image_grid_thw=grid[slot].to(device),
                                           image_features=features)

    def _weights_fingerprint(self) -> tuple:
        # Sequential offload re-creates parameters on every forward: identity would never match.
        mode = self.offload
        weights = weights_fingerprint([self.model.mllm, self.model.connector], identity=mode != "sequential")
        return id(self.processor), str(self._execution_device), self.dtype, mode, weights

    def prepare_latents(self, batch: int, n: int, height: int, width: int, generator, latents=None) -> torch.Tensor:
        """float32 CPU noise from the caller's generator(s), then moved: the same seed gives the same image
        anywhere. Given `latents` [batch * n, C, h, w] are checked and used as they are."""
        f = self.model.config.vae_downsample_f
        shape = (batch * n, self.transformer.config.in_channels, height // f, width // f)
        if latents is not None:
            if not isinstance(latents, torch.Tensor) or tuple(latents.shape) != shape:
                got = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
                raise InputError(f"latents must be a tensor of shape {shape}, got {got}")
            return latents.to(self._execution_device, torch.float32)
        if isinstance(generator, (list, tuple)):
            if len(generator) != batch:
                raise InputError(f"got {len(generator)} generators for {batch} prompts")
            noise = torch.cat([torch.randn((n, *shape[1:]), generator=g, dtype=torch.float32) for g in generator])
        else:
            noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        return noise.to(self._execution_device)

    # ---- generation ----
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        image=None,
        negative_prompt: str | list[str] = "",
        guidance_scale: float = 4.5,
        image_guidance_scale: float = 1.5,
        num_inference_steps: int = 30,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        height: int | None = None,
        width: int | None = None,
        callback_on_step_end: Callable | None = None,
        progress: bool = True,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        prompt_attention_mask: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        negative_prompt_attention_mask: torch.Tensor | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
        return_dict: bool = True,
        guidance_interval: tuple[float, float] | None = None,
    ) -> UniImagePipelineOutput:
        """Text (+ images) -> images. `prompt_embeds` etc. replace the MLLM pass (see `encode_conditions`);
        `latents` replace the seeded noise. `callback_on_step_end(pipe, i, t, kwargs)` gets the tensors named
        in `callback_on_step_end_tensor_inputs` (of `_callback_tensor_inputs`) and may return new `latents`;
        it may also set `pipe._interrupt` (the remaining steps are skipped) or raise to stop sampling.
        `guidance_interval` (lo, hi): guide only the steps whose noise level sigma is in [lo, hi] (guidance.py);
        default: the model config's `guidance_interval` (None, every step, for the published model); (0, 1):
        every step whatever the config says."""
        if output_type not in ("pil", "np", "pt", "latent"):
            raise InputError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
        bad = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise InputError(f"callback_on_step_end_tensor_inputs {bad} not among {self._callback_tensor_inputs}")
        if hasattr(callback_on_step_end, "tensor_inputs"):  # diffusers' PipelineCallback / MultiPipelineCallbacks
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        self._check_numbers(num_inference_steps, guidance_scale, image_guidance_scale, num_images_per_prompt)
        interval = self.resolve_guidance_interval(guidance_interval)
        if latents is not None and height is None and width is None:
            f = self.model.config.vae_downsample_f
            height, width = latents.shape[-2] * f, latents.shape[-1] * f
        height, width = self._check_size(height, width)
        n = num_images_per_prompt
        self._guidance_scale, self._interrupt = guidance_scale, False

        if negative_prompt_embeds is not None:
            if prompt_embeds is None:
                raise InputError("negative_prompt_embeds needs prompt_embeds")
            prompt_embeds, prompt_attention_mask = self._check_condition("prompt_embeds", prompt_embeds, prompt_attention_mask)
            negative_prompt_embeds, negative_prompt_attention_mask = self._check_condition(
                "negative_prompt_embeds", negative_prompt_embeds, negative_prompt_attention_mask, prompt_embeds.shape[1])
            if negative_prompt_embeds.shape[1] > 2 * prompt_embeds.shape[1]:
                raise InputError("negative_prompt_embeds holds at most 2 unconditional groups of rows")
        else:
            conditions = self.encode_conditions(prompt, image, negative_prompt, guidance_scale, image_guidance_scale,
                                                prompt_embeds, prompt_attention_mask)
            prompt_embeds, prompt_attention_mask = conditions["prompt_embeds"], conditions["prompt_attention_mask"]
            negative_prompt_embeds = conditions["negative_prompt_embeds"]
            negative_prompt_attention_mask = conditions["negative_prompt_attention_mask"]
        batch = prompt_embeds.shape[1]
        groups = 1 + negative_prompt_embeds.shape[1] // batch
        condition = torch.cat([negative_prompt_embeds, prompt_embeds], dim=1).repeat_interleave(n, dim=1)
        mask = torch.cat([negative_prompt_attention_mask, prompt_attention_mask]).repeat_interleave(n, dim=0)

        latents = self.prepare_latents(batch, n, height, width, generator, latents)
        rows = latents.shape[0]
        # Padded up to the batch bucket (a compiled graph's shape); the extra rows are sliced off below.
        size = bucket_size(rows, self.batch_buckets)
        latents = pad_rows(latents, size)
        condition, mask = pad_groups(condition, groups, size, dim=1), pad_groups(mask, groups, size)
        device = self._execution_device
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        # A begin index spares the scheduler its first-step timestep lookup (a `.item()`: a host sync on GPU).
        self.scheduler.set_begin_index(0)
        timesteps = self.scheduler.timesteps
        sigmas = self.scheduler.sigmas  # indexed by Python ints below: never a device-to-host read
        self._num_timesteps = len(timesteps)
        guided = guided_steps(sigmas[: len(timesteps)].tolist(), interval)  # sigmas live on the CPU: no sync
        with self._progress(progress, len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                self._mark_graph_step()
                model_input = torch.cat([latents] * groups).to(self.dtype)
                velocity = self.model(model_input, t.expand(model_input.shape[0]), condition, mask).float()
                velocity = guided_prediction(velocity, groups, guidance_scale, image_guidance_scale, guided[i])
                if callback_on_step_end is not None and "denoised" in callback_on_step_end_tensor_inputs:
                    # Flow matching: x_t = (1 - sigma) x0 + sigma noise and v = noise - x0, so x0 = x_t - sigma v.
                    # sigma stays where the scheduler keeps it (a 0-d CPU tensor works with a GPU tensor).
                    denoised = latents - sigmas[i] * velocity
                latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    shown = latents[:rows]
                    named = dict(latents=shown, velocity=velocity[:rows], prompt_embeds=prompt_embeds,
                                 negative_prompt_embeds=negative_prompt_embeds)
                    if "denoised" in callback_on_step_end_tensor_inputs:
                        named["denoised"] = denoised[:rows]
                    outputs = callback_on_step_end(self, i, t, {k: named[k] for k in callback_on_step_end_tensor_inputs})
                    returned = (outputs or {}).get("latents", shown)
                    if returned is not shown:
                        latents = pad_rows(returned, size)
                bar.update()
        latents = latents[:rows]
        images = self.decode_latents(latents, output_type)
        self.maybe_free_model_hooks()
        return UniImagePipelineOutput(images=images) if return_dict else (images,)

    def _progress(self, show: bool, total: int):
        """diffusers' progress bar; `progress=False` turns it off for this call only."""
        saved = getattr(self, "_progress_bar_config", {})
        self._progress_bar_config = {"desc": "sampling", **saved, **({} if show else {"disable": True})}
        try:
            return self.progress_bar(total=total)
        finally:
            self._progress_bar_config = saved

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, output_type: str = "pil"):
        """Latents in the DiT's space -> images (diffusers' VaeImageProcessor: [0, 1] 'pt' / 'np', or PIL)."""
        if output_type == "latent":
            return latents
        vae = self.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        rows = latents.shape[0]
        z = pad_rows((latents / vae.config.scaling_factor + shift).to(vae.dtype), bucket_size(rows, self.batch_buckets))
        self._mark_graph_step()
        x = vae.decode(z).sample[:rows].float()
        return self.image_processor.postprocess(x, output_type=output_type)

    def _mark_graph_step(self):
        """CUDA graphs (compile mode 'reduce-overhead') reuse their output buffers: a new denoising step
        or decode tells them the previous outputs are consumed."""
        if self.compile_options is not None and self.compile_options.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()

    # ---- speed and memory ----
    def compile_transformer(self, **compile_kwargs) -> "UniImagePipeline":
        """torch.compile the whole DiT forward, nothing else (see `compile` for the serving path)."""
        self.transformer.compile(**compile_kwargs)
        return self

    def compile(self, mode: str = "default", regional: bool = True, vae: bool = True,
                buckets: Sequence[int] | None = DEFAULT_BUCKETS, fp8: bool = False, backend="inductor",
                fullgraph: bool = True, **extra) -> "UniImagePipeline":
        """torch.compile the DiT (its repeated block: diffusers' regional compilation) and the VAE decoder,
        batches padded up to `buckets` so a new batch size inside a bucket does not recompile. `mode`
        'reduce-overhead' adds CUDA graphs (CUDA only); `fp8` swaps the DiT linears to float8 (torchao,
        Ada/Hopper). Bad options fail before anything changes. See uniimage/perf/compile.py."""
        from ..perf.compile import CompileOptions, compile_pipeline

        options = CompileOptions(mode=mode, regional=regional, vae=vae, fp8=fp8, backend=backend, fullgraph=fullgraph,
                                 buckets=tuple(buckets) if isinstance(buckets, list) else buckets,
                                 extra=extra)
        compile_pipeline(self, options)
        return self

    def uncompile(self) -> "UniImagePipeline":
        """Undo `compile` (eager modules, no buckets); fp8 weights stay fp8."""
        from ..perf.compile import uncompile_pipeline

        uncompile_pipeline(self)
        return self

    def quantize_mllm(self, mode: str = "8bit", device="cuda") -> "UniImagePipeline":
        """8-bit / 4-bit MLLM via bitsandbytes, on `device` (CUDA). Cached conditions are dropped."""
        if self.offload is not None:
            raise InputError("quantize the MLLM before enabling CPU offload (bitsandbytes weights stay on the GPU)")
        self.model.quantize_mllm(mode, device)
        self.connector.to(device)  # inputs follow the connector: computation starts on the MLLM's device
        self.condition_cache.clear()
        return self

    # ---- understanding ----
    @property
    def can_understand(self) -> bool:
        return self.mllm.lm_head.weight.device.type != "meta"

    def _understanding_generate_kwargs(self, image, question, max_new_tokens, do_sample, temperature, top_p, history):
        if not self.can_understand:
            raise InputError("this checkpoint has no LM head (its MLLM does not tie it to the embedding): it cannot answer questions")
        if not isinstance(question, str) or not question.strip():
            raise InputError("question must be a non-empty string")
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 4096:
            raise InputError(f"max_new_tokens must be an integer in 1..4096, got {max_new_tokens!r}")
        images = [] if image is None else [load_image(x) for x in (image if isinstance(image, (list, tuple)) else [image])]
        inputs = self.processor.understanding_inputs(images, question, history).to(self._execution_device)
        tok = self.processor.tokenizer
        eos = [i for i in {tok.convert_tokens_to_ids("<|im_end|>"), tok.eos_token_id, tok.pad_token_id} if i is not None]
        kwargs = dict(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                      mm_token_type_ids=(inputs.input_ids == self.mllm.config.image_token_id).int(),
                      max_new_tokens=max_new_tokens, do_sample=do_sample, eos_token_id=eos, pad_token_id=tok.pad_token_id)
        if do_sample:
            kwargs.update(temperature=temperature, top_p=top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if inputs.pixel_values is not None:
            kwargs.update(pixel_values=inputs.pixel_values.to(self.dtype), image_grid_thw=inputs.image_grid_thw)
        return kwargs

    @torch.no_grad()
    def understand_ids(self, image, question: str, max_new_tokens: int = 128, do_sample: bool = False,
                       temperature: float = 1.0, top_p: float = 1.0, history: list[dict] | None = None,
                       streamer=None) -> torch.Tensor:
        """The generated token ids (prompt excluded). `streamer`: a transformers streamer, fed in this thread."""
        kwargs = self._understanding_generate_kwargs(image, question, max_new_tokens, do_sample, temperature, top_p, history)
        out = self.mllm.generate(**kwargs, streamer=streamer)
        return out[0, kwargs["input_ids"].shape[1]:]

    def understand(self, image, question: str, max_new_tokens: int = 128, do_sample: bool = False,
                   temperature: float = 1.0, top_p: float = 1.0, history: list[dict] | None = None) -> str:
        """Answer a question about one or more images (or none) with the same weights that draw."""
        ids = self.understand_ids(image, question, max_new_tokens, do_sample, temperature, top_p, history)
        return self.processor.tokenizer.decode(ids, skip_special_tokens=True)

    def understand_stream(self, image, question: str, max_new_tokens: int = 128, do_sample: bool = False,
                          temperature: float = 1.0, top_p: float = 1.0, history: list[dict] | None = None) -> Iterator[str]:
        """Like `understand`, yielding text pieces as they are generated."""
        from transformers import TextIteratorStreamer

        kwargs = self._understanding_generate_kwargs(image, question, max_new_tokens, do_sample, temperature, top_p, history)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors = []

        def run():
            try:
                with torch.no_grad():
                    self.mllm.generate(**kwargs, streamer=streamer)
            except Exception as e:  # surfaced in the caller's thread below
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if errors:
            raise errors[0]
