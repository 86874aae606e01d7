"""Argument checks that run before any model loads, in the command line's own words (`--steps`, not the
pipeline's parameter names). Each failure is one line and exit code 1."""

from __future__ import annotations

import math
import re

from ..config import check_interval
from ..errors import InputError

MAX_STEPS = 1000  # the pipeline's own cap
MAX_IMAGES = 16
MAX_SIDE = 4096


def in_range(name: str, value, low, high=None, integer: bool = False):
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InputError(f"{name} must be {bound}, got {value}")
    return value


def prompts(texts: list[str], what: str = "prompt") -> list[str]:
    for i, text in enumerate(texts):
        if not text.strip():
            where = f" {i + 1}" if len(texts) > 1 else ""
            raise InputError(f"{what}{where} is empty; say what to draw")
    return texts


def size(args) -> tuple[int | None, int | None]:
    """--size WxH or --width/--height -> (height, width); None = the model's native size."""
    width, height = args.width, args.height
    if args.size is not None:
        if width is not None or height is not None:
            raise InputError("give --size or --width/--height, not both")
        m = re.fullmatch(r"(\d+)[xX](\d+)", args.size.strip())
        if m is None:
            raise InputError(f"--size must look like 512x512 (width x height), got {args.size!r}")
        width, height = int(m.group(1)), int(m.group(2))
    for name, value in (("--width", width), ("--height", height)):
        if value is not None:
            in_range(name, value, 1, MAX_SIDE)
    return height, width


def sampling(args) -> None:
    in_range("--steps", args.steps, 1, MAX_STEPS)
    in_range("--guidance", args.guidance, 0.0)
    in_range("-n/--num-images", args.num_images, 1, MAX_IMAGES)
    if getattr(args, "image_guidance", None) is not None:
        in_range("--image-guidance", args.image_guidance, 0.0)
    if args.seed < 0:
        raise InputError(f"--seed must be at least 0, got {args.seed}")
    try:  # the config's rule, the message naming the option
        check_interval(getattr(args, "guidance_interval", None), name="--guidance-interval LO HI")
    except ValueError as e:
        raise InputError(str(e)) from None


def answering(args) -> None:
    in_range("--temperature", args.temperature, 0.0, 2.0)
    if not math.isfinite(args.top_p) or not 0.0 < args.top_p <= 1.0:
        raise InputError(f"--top-p must be in (0, 1], got {args.top_p}")
    in_range("--max-new-tokens", args.max_new_tokens, 1, 4096)
    if not args.question.strip():
        raise InputError("the question is empty; ask something about the image")


def model_ref(ref: str | None) -> None:
    """A model that is clearly missing (a path that is not there) fails before torch is imported."""
    if ref is None:
        return
    from pathlib import Path

    from ..presets import preset_folder

    looks_local = ref.startswith((".", "/", "~")) or ref.count("/") != 1
    if looks_local and preset_folder(ref) is None and not Path(ref).expanduser().exists():
        raise InputError(f"model {ref!r} not found: no such folder, preset or hub id")


def compile_flags(args) -> None:
    """--compile MODE / --fp8 against --device, before the model loads (the pipeline checks again)."""
    mode, device = getattr(args, "compile", None), str(getattr(args, "device", "cpu"))
    if mode in ("reduce-overhead", "max-autotune") and not device.startswith("cuda"):
        raise InputError(f"--compile {mode} captures CUDA graphs; it needs --device cuda, got --device {device}")
    if getattr(args, "fp8", False):
        import torch

        from ..perf.fp8 import check_fp8

        try:
            check_fp8(torch.device(device))
        except (RuntimeError, AssertionError) as e:  # a CUDA device this torch cannot see
            raise InputError(f"--fp8: device {device!r} is not usable here: {e}") from e
