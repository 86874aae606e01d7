"""OpenAI Images fields -> what this server does: step counts, output encoding, partial-image steps,
usage, and the shapes of responses and stream events. Every refusal says why (docs/serving.md lists all)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional

from .limits import LimitError, Limits

log = logging.getLogger("uniimage.serving")

DEFAULT_STEPS = 30
# quality -> sampling steps (the cost knob this model has); dall-e's standard/hd map to medium/high.
QUALITY_STEPS = {"low": 10, "medium": 20, "standard": 20, "high": 30, "hd": 30, "xhigh": 40, "max": 50}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
MAX_PARTIAL_IMAGES = 3


@dataclass(frozen=True)
class ImageOptions:
    """The response-side choices of one images request, checked."""

    quality: str
    steps: int
    response_format: str
    output_format: str
    compression: Optional[int]
    stream: bool
    partial_images: int

    def echo(self, size: str) -> dict:
        return {"size": size, "quality": self.quality, "output_format": self.output_format, "background": "opaque"}


def refuse(param: str, message: str):
    raise LimitError(f"'{param}' {message}", param=param)


def default_steps(limits: Limits) -> int:
    return max(limits.min_steps, min(DEFAULT_STEPS, limits.max_steps))


def steps_for(quality: str, steps: Optional[int], limits: Limits) -> int:
    """An explicit `steps` wins; otherwise the quality's step count, kept within the server's limits."""
    if steps is not None:
        return steps  # checked against min/max_steps with the rest of the job
    if quality == "auto":
        return default_steps(limits)
    return max(limits.min_steps, min(QUALITY_STEPS[quality], limits.max_steps))


def check_refused(body, edit: bool) -> None:
    if body.background not in (None, "auto", "opaque"):
        refuse("background", f"{body.background!r} is not supported: this model draws opaque images (use 'auto' or 'opaque')")
    if body.style is not None:
        refuse("style", "is a DALL-E 3 option this model does not have; describe the style in the prompt")
    if body.complexity is not None:
        refuse("complexity", "is not supported: this model has no planning stage to spend it on")
    if body.frame_count is not None or body.frame_duration_ms is not None:
        refuse("frame_count" if body.frame_count is not None else "frame_duration_ms", "is not supported: no GIF output")
    if body.svg is not None:
        refuse("svg", "is not supported: no SVG output")
    if edit and body.input_fidelity not in (None, "low"):
        refuse("input_fidelity", f"{body.input_fidelity!r} is not supported; input images are always read at one fidelity ('low')")


def image_options(body, limits: Limits, edit: bool = False) -> ImageOptions:
    check_refused(body, edit)
    quality = body.quality or "auto"
    if quality != "auto" and quality not in QUALITY_STEPS:
        refuse("quality", f"must be one of auto, {', '.join(QUALITY_STEPS)}; got {quality!r}")
    fmt = body.output_format or "png"
    if fmt not in OUTPUT_FORMATS:
        refuse("output_format", f"must be one of {', '.join(OUTPUT_FORMATS)}; got {fmt!r}")
    compression = body.output_compression
    if compression is not None:
        if fmt == "png":
            refuse("output_compression", "applies to jpeg and webp only; PNG is lossless")
        if not 0 <= compression <= 100:
            refuse("output_compression", f"must be between 0 and 100, got {compression}")
    response_format = body.response_format or "b64_json"
    partial = body.partial_images
    if partial is not None:
        if not body.stream:
            refuse("partial_images", "needs 'stream': true")
        if not 0 <= partial <= MAX_PARTIAL_IMAGES:
            refuse("partial_images", f"must be between 0 and {MAX_PARTIAL_IMAGES}, got {partial}")
    if body.stream and response_format == "url":
        refuse("response_format", "'url' cannot be streamed; streams carry b64_json")
    who = body.safety_identifier or body.user
    if who:
        log.info("images request for user %r", who[:64])
    return ImageOptions(quality=quality, steps=steps_for(quality, body.steps, limits), response_format=response_format,
                        output_format=fmt, compression=compression, stream=bool(body.stream), partial_images=partial or 0)


def partial_steps(steps: int, count: int) -> tuple[int, ...]:
    """0-based step indices, evenly spaced, after which a preview is decoded; never the last step (the
    final image follows it), so short runs send fewer previews (as OpenAI's own may)."""
    picked = {(j + 1) * steps // (count + 1) - 1 for j in range(count)}
    return tuple(sorted(i for i in picked if 0 <= i < steps - 1))


def usage(pipe, prompt: str, images, n: int, height: int, width: int) -> dict:
    """Tokens as this model counts them: prompt tokens (after its truncation), input-image tokens as the
    MLLM sees them, and output tokens = latent patches the DiT drew for all n images."""
    processor = pipe.processor
    text = min(len(processor.tokenizer(prompt, add_special_tokens=False)["input_ids"]), processor.max_text_tokens)
    image = image_tokens(processor, images or [])
    patch = int(pipe.model.config.vae_downsample_f) * int(pipe.model.transformer.config.patch_size)
    output = n * (height // patch) * (width // patch)
    return {"input_tokens": text + image, "input_tokens_details": {"text_tokens": text, "image_tokens": image},
            "output_tokens": output, "total_tokens": text + image + output}


def image_tokens(processor, images) -> int:
    """Merged vision patches per image at the generation pixel budget: the MLLM's image tokens."""
    if not images:
        return 0
    _, grid = processor.pixels(images, processor.image_pixels)
    return int((grid.prod(-1) // processor.image_processor.merge_size**2).sum())


def response(model: str, seed: int, items: list[dict], opts: ImageOptions, size: str, used: dict) -> dict:
    return {"created": int(time.time()), "model": model, "seed": seed, "data": items, "usage": used, **opts.echo(size)}


def event(kind: str, **fields) -> str:
    """One server-sent event, named like OpenAI's (`event:` line and a `type` in the data)."""
    import json

    body = {"type": kind, "created_at": int(time.time()), **fields}
    return f"event: {kind}\ndata: {json.dumps(body)}\n\n"


def error_event(message: str, kind: str) -> str:
    import json

    return f"event: error\ndata: {json.dumps({'type': 'error', 'error': {'message': message, 'type': kind}})}\n\n"
