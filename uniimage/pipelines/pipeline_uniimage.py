"""UniImagePipeline: text (and images) in, images out; and questions about images answered.

    condition = model.encode_condition(prompt rows in CFG order)        # the ladder, once per call
                                                                         # (negative rows: once per model)
    x_T ~ N(0, I)
    for t in timesteps:
        v   = guided_prediction(model(x_t, t, condition))                # CFG
        x_t = scheduler.step(v, t, x_t)
    image = vae.decode(x_0 / scaling_factor)
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..errors import InputError
from ..utils.images import load_image
from . import offload
from .condition_cache import ConditionCache, image_key, row_key, weights_fingerprint
from .guidance import guidance_groups, guided_prediction
from .schedulers import load_sampler

logger = logging.getLogger(__name__)

MAX_IMAGES_PER_PROMPT = 16
MAX_INPUT_IMAGES = 8
MAX_STEPS = 1000


@dataclass
class UniImagePipelineOutput:
    images: list | np.ndarray | torch.Tensor


class UniImagePipeline:
    def __init__(self, model, processor, scheduler, components=None, name_or_path: str = ""):
        self.model, self.processor, self.scheduler = model, processor, scheduler
        self.components, self.name_or_path = components, name_or_path
        self._progress = {}
        self.condition_cache = ConditionCache()
        self._offload, self._offload_hooks, self._execution_device = None, [], None

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
        model, processor, components = load_preset_or_checkpoint(str(ref), torch_dtype or torch.float32, **config_overrides)
        pipe = cls(model, processor, load_sampler(components.scheduler_dir), components, str(ref))
        if mllm_quantization is not None:
            pipe.quantize_mllm(mllm_quantization)
        return pipe

    def save_pretrained(self, folder: str | Path, max_shard_size: int = 5 * 1024**3):
        from ..checkpoint.pretrained import save_pretrained

        save_pretrained(self.model, self.components, folder, max_shard_size)

    def to(self, *args, **kwargs) -> "UniImagePipeline":
        if self._offload is not None:
            logger.warning("pipe.to() removes the %s CPU offload", self._offload)
            self.remove_offload()
        self.model.to(*args, **kwargs)
        self.condition_cache.clear()
        return self

    @property
    def device(self) -> torch.device:
        """Where inputs go and computation runs (the execution device under offload)."""
        return self._execution_device or self.model.connector[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.connector[0].weight.dtype

    @property
    def config(self):
        return self.model.config

    @property
    def default_height(self) -> int:
        return self.config.image_size

    @property
    def default_width(self) -> int:
        return self.config.image_size

    def set_progress_bar_config(self, **kwargs):
        self._progress = kwargs

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
        f = self.config.vae_downsample_f * self.model.transformer.config.patch_size
        if height % f or width % f or height < f or width < f:
            raise InputError(f"height and width must be positive multiples of {f}, got {height}x{width}")
        return height, width

    @staticmethod
    def _check_numbers(steps, guidance_scale, image_guidance_scale, n):
        if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise InputError(f"num_inference_steps must be an integer in 1..{MAX_STEPS}, got {steps!r}")
        if guidance_scale < 0 or image_guidance_scale < 0:
            raise InputError(f"guidance scales must be >= 0, got {guidance_scale} and {image_guidance_scale}")
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES_PER_PROMPT:
            raise InputError(f"num_images_per_prompt must be an integer in 1..{MAX_IMAGES_PER_PROMPT}, got {n!r}")

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
        """-> (condition [K, rows, N, C], mask [rows, N]). Identical rows are computed once; rows flagged
        `cacheable` (the unconditional ones: the same every call) come from `condition_cache` when seen."""
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

    def _encode_rows(self, captions: list[str], images: list[list[Image.Image]]):
        """The MLLM over these rows; the vision tower sees each distinct image once, however many rows hold it."""
        flat = [im for ims in images for im in ims]
        if not flat:
            inputs = self.processor.generation_inputs(captions, images).to(self.device)
            return self.model.encode_condition(inputs.input_ids, inputs.attention_mask)
        keys = [image_key(im) for im in flat]
        distinct = list(dict.fromkeys(keys))
        slot = torch.tensor([distinct.index(k) for k in keys])
        pixels, grid = self.processor.pixels([flat[keys.index(k)] for k in distinct], self.processor.image_pixels)
        features = self.model.image_features(pixels.to(self.device, self.dtype), grid.to(self.device))
        features.pooler_output = tuple(features.pooler_output[s] for s in slot.tolist())  # one entry per image slot
        # The same ids `processor.generation_inputs` gives, without preprocessing an image twice.
        ids, attention = self.processor.tokens(self.processor.generation_texts(captions, images), grid[slot])
        return self.model.encode_condition(ids.to(self.device), attention.to(self.device), image_grid_thw=grid[slot].to(self.device),
                                           image_features=features)

    def _weights_fingerprint(self) -> tuple:
        # Sequential offload re-creates parameters on every forward: identity would never match.
        modules = [self.model.mllm, self.model.connector]
        weights = weights_fingerprint(modules, identity=self._offload != "sequential")
        return id(self.processor), str(self.device), self.dtype, self._offload, weights

    def prepare_latents(self, batch: int, n: int, height: int, width: int, generator) -> torch.Tensor:
        """float32 CPU noise from the caller's generator(s), then moved: the same seed gives the same image anywhere."""
        f = self.config.vae_downsample_f
        shape = (n, self.model.transformer.config.in_channels, height // f, width // f)
        if isinstance(generator, (list, tuple)):
            if len(generator) != batch:
                raise InputError(f"got {len(generator)} generators for {batch} prompts")
            noise = torch.cat([torch.randn(shape, generator=g, dtype=torch.float32) for g in generator])
        else:
            noise = torch.randn((batch * n, *shape[1:]), generator=generator, dtype=torch.float32)
        return noise.to(self.device)

    # ---- generation ----
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
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
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> UniImagePipelineOutput:
        """`callback_on_step_end(pipe, step_index, timestep, callback_kwargs)` runs after every step, as in
        diffusers: `callback_kwargs` holds the tensors named in `callback_on_step_end_tensor_inputs` (any of
        `_callback_tensor_inputs`), and a returned "latents" replaces the latents. It may raise to stop sampling."""
        prompts = self._prompts(prompt)
        negatives = [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else self._prompts(negative_prompt)
        if len(negatives) != len(prompts):
            raise InputError(f"got {len(negatives)} negative prompts for {len(prompts)} prompts")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise InputError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
        self._check_numbers(num_inference_steps, guidance_scale, image_guidance_scale, num_images_per_prompt)
        self._check_callback_inputs(callback_on_step_end_tensor_inputs)
        height, width = self._check_size(height, width)
        images = self._images(image, len(prompts))
        n = num_images_per_prompt

        captions, row_images, groups = self.cfg_rows(prompts, negatives, images, guidance_scale, image_guidance_scale)
        unconditional = [row < (groups - 1) * len(prompts) for row in range(len(captions))]  # every group but the last
        condition, mask = self.encode_prompt(captions, row_images, cacheable=unconditional)
        condition, mask = condition.repeat_interleave(n, dim=1), mask.repeat_interleave(n, dim=0)

        latents = self.prepare_latents(len(prompts), n, height, width, generator)
        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = self.scheduler.timesteps
        for i, t in enumerate(tqdm(timesteps, disable=not progress, desc="sampling", **self._progress)):
            model_input = torch.cat([latents] * groups).to(self.dtype)
            velocity = self.model(model_input, t.expand(model_input.shape[0]), condition, mask).float()
            velocity = guided_prediction(velocity, groups, guidance_scale, image_guidance_scale)
            before = latents
            latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0]
            if callback_on_step_end is not None:
                tensors = self._callback_tensors(callback_on_step_end_tensor_inputs, latents, velocity, before, i)
                latents = (callback_on_step_end(self, i, t, tensors) or {}).get("latents", latents)
        images = self.decode_latents(latents, output_type)
        self._offload_last_model()
        return UniImagePipelineOutput(images=images)

    # Tensors a step callback may ask for: the latents after the step, the guided velocity at `t`, and the
    # sampler's current estimate of the clean latents (flow matching: x0 = x_t - sigma_t * v).
    _callback_tensor_inputs = ("latents", "noise_pred", "pred_original_sample")

    def _check_callback_inputs(self, names):
        unknown = [n for n in names if n not in self._callback_tensor_inputs]
        if unknown:
            raise InputError(f"callback_on_step_end_tensor_inputs: unknown {unknown}; choose from {list(self._callback_tensor_inputs)}")

    def _callback_tensors(self, names, latents, velocity, before, step_index: int) -> dict:
        out = {}
        for name in names:
            if name == "latents":
                out[name] = latents
            elif name == "noise_pred":
                out[name] = velocity
            else:
                sigma = self.scheduler.sigmas[step_index].to(velocity.device, torch.float32)  # both flow samplers keep them
                out[name] = before - sigma * velocity
        return out

    def decode_latents(self, latents: torch.Tensor, output_type: str = "pil"):
        if output_type == "latent":
            return latents
        vae = self.model.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        x = vae.decode((latents / vae.config.scaling_factor + shift).to(vae.dtype)).sample.float()
        x = (x / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            return x
        pixels = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        if output_type == "np":
            return pixels.astype(np.float32) / 255.0
        return [Image.fromarray(p) for p in pixels]

    # ---- speed and memory ----
    def enable_model_cpu_offload(self, device="cuda") -> "UniImagePipeline":
        """MLLM, DiT and VAE each on `device` only while in use (accelerate hooks); the rest in CPU memory."""
        self.remove_offload()
        self._execution_device = offload.execution_device(device)
        self._offload_hooks = offload.enable_model_offload(self.model, self._execution_device)
        self._offload = "model"
        return self

    def enable_sequential_cpu_offload(self, device="cuda") -> "UniImagePipeline":
        """Every submodule's weights streamed to `device` for its own forward: least memory, slowest."""
        self.remove_offload()
        self._execution_device = offload.execution_device(device)
        offload.enable_sequential_offload(self.model, self._execution_device)
        self._offload = "sequential"
        return self

    def remove_offload(self) -> "UniImagePipeline":
        """Detach offload hooks; every weight ends up in CPU memory."""
        if self._offload is not None:
            offload.remove_offload(self.model, self._offload_hooks)
            self.condition_cache.clear()
        self._offload, self._offload_hooks, self._execution_device = None, [], None
        return self

    def _offload_last_model(self):
        # The chain sends each model back when the next starts; nothing follows the VAE, so send it here.
        if self._offload == "model":
            self._offload_hooks[-1].offload()

    def compile_transformer(self, **compile_kwargs) -> "UniImagePipeline":
        """torch.compile the DiT (it runs steps x CFG rows times a call; the MLLM and VAE run once)."""
        self.model.transformer.compile(**compile_kwargs)
        return self

    def quantize_mllm(self, mode: str = "8bit", device="cuda") -> "UniImagePipeline":
        """8-bit / 4-bit MLLM via bitsandbytes, on `device` (CUDA). Cached conditions are dropped."""
        if self._offload is not None:
            raise InputError("quantize the MLLM before enabling CPU offload (bitsandbytes weights stay on the GPU)")
        self.model.quantize_mllm(mode, device)
        self.model.connector.to(device)  # inputs follow the connector: computation starts on the MLLM's device
        self.condition_cache.clear()
        return self

    # ---- understanding ----
    @property
    def can_understand(self) -> bool:
        return self.model.mllm.lm_head.weight.device.type != "meta"

    def _understanding_generate_kwargs(self, image, question, max_new_tokens, do_sample, temperature, top_p, history):
        if not self.can_understand:
            raise InputError("this checkpoint has no LM head (its MLLM does not tie it to the embedding): it cannot answer questions")
        if not isinstance(question, str) or not question.strip():
            raise InputError("question must be a non-empty string")
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 4096:
            raise InputError(f"max_new_tokens must be an integer in 1..4096, got {max_new_tokens!r}")
        images = [] if image is None else [load_image(x) for x in (image if isinstance(image, (list, tuple)) else [image])]
        inputs = self.processor.understanding_inputs(images, question, history).to(self.device)
        tok = self.processor.tokenizer
        eos = [i for i in {tok.convert_tokens_to_ids("<|im_end|>"), tok.eos_token_id, tok.pad_token_id} if i is not None]
        kwargs = dict(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                      mm_token_type_ids=(inputs.input_ids == self.model.mllm.config.image_token_id).int(),
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
        out = self.model.mllm.generate(**kwargs, streamer=streamer)
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
                    self.model.mllm.generate(**kwargs, streamer=streamer)
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
