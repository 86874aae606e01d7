"""The naive reference the bench compares against: same weights, same math, nothing reused.

Per denoising step and per CFG row it rebuilds the row's condition from scratch (processor, vision
tower for that row's images, the MLLM run in full to its final layer with every hidden state kept,
ladder readout, connector), then runs the DiT on that row alone; each image is decoded alone. It is
deliberately NOT built from the pipeline's conditioning code, so it also checks that code.
"""

from __future__ import annotations

import time

import torch

from ..pipelines.guidance import guided_prediction
from .timing import sync


def naive_condition(pipe, caption: str, images: list) -> tuple[torch.Tensor, torch.Tensor]:
    """One CFG row's condition [K, N, C] and mask [N], from nothing."""
    model = pipe.model
    qwen = model.mllm.model
    inputs = pipe.processor.generation_inputs([caption], [images]).to(pipe._execution_device)
    token_types = (inputs.input_ids == model.mllm.config.image_token_id).int()
    positions, _ = qwen.get_rope_index(inputs.input_ids, token_types, image_grid_thw=inputs.image_grid_thw,
                                       attention_mask=inputs.attention_mask)
    pixels = inputs.pixel_values.to(pipe.dtype) if inputs.pixel_values is not None else None
    out = qwen(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask, position_ids=positions,
               pixel_values=pixels, image_grid_thw=inputs.image_grid_thw, output_hidden_states=True, use_cache=False)
    queries = model.query_positions(inputs.input_ids)[0]
    ladder = torch.stack([out.hidden_states[i][0, queries] for i in model.ladder])  # [K, N, H]
    return model.connector(ladder.to(model.connector[0].weight.dtype)), inputs.attention_mask[0, queries]


@torch.no_grad()
def naive_generate(pipe, prompts: list[str], image=None, negative_prompt: str = "", guidance_scale: float = 4.5,
                   image_guidance_scale: float = 1.5, num_inference_steps: int = 30, generator=None,
                   height: int | None = None, width: int | None = None, timings: dict | None = None) -> torch.Tensor:
    """Images [B, 3, H, W] in [0, 1] (one per prompt), as the pipeline's output_type='pt' would give.
    `timings` (if given) accumulates seconds under 'mllm', 'dit' and 'vae'."""
    timings = timings if timings is not None else {}
    for key in ("mllm", "dit", "vae"):
        timings.setdefault(key, 0.0)
    device = pipe._execution_device
    height, width = pipe._check_size(height, width)
    images = pipe._images(image, len(prompts))
    captions, row_images, groups = pipe.cfg_rows(prompts, [negative_prompt] * len(prompts), images,
                                                 guidance_scale, image_guidance_scale)
    latents = pipe.prepare_latents(len(prompts), 1, height, width, generator)
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)  # own state: never shares ours
    scheduler.set_timesteps(num_inference_steps, device=device)
    for t in scheduler.timesteps:
        predictions = []
        for row, (caption, ims) in enumerate(zip(captions, row_images)):
            start = time.perf_counter()
            condition, mask = naive_condition(pipe, caption, ims)
            sync(device)
            mid = time.perf_counter()
            x = latents[row % len(prompts)].unsqueeze(0).to(pipe.dtype)  # rows are group-major
            predictions.append(pipe.model(x, t.expand(1), condition.unsqueeze(1), mask.unsqueeze(0)).float())
            sync(device)
            timings["mllm"] += mid - start
            timings["dit"] += time.perf_counter() - mid
        start = time.perf_counter()
        velocity = guided_prediction(torch.cat(predictions), groups, guidance_scale, image_guidance_scale)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
        sync(device)
        timings["dit"] += time.perf_counter() - start
    start = time.perf_counter()
    decoded = torch.cat([pipe.decode_latents(latents[i : i + 1], "pt") for i in range(len(prompts))])
    sync(device)
    timings["vae"] += time.perf_counter() - start
    return decoded
