"""Caps on everything a client controls; each violation names the limit it broke.

The server is one process with one model: a single huge request would stall every other client, so the
caps are set for a shared service, not for what the model could technically do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError


class LimitError(InputError):
    """A request that breaks a server limit; `status` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 400, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int = 2000
    max_n: int = 10  # OpenAI's range is 1-10
    min_steps: int = 1
    max_steps: int = 100
    max_guidance: float = 30.0
    max_images_per_edit: int = 4
    max_upload_bytes: int = 10 * 1024 * 1024  # one image part / data URI, decoded
    max_body_bytes: int = 48 * 1024 * 1024  # the whole HTTP body, before parsing
    max_pixels: int = 16 * 1024 * 1024  # per decoded image: generous for photos, stops bombs
    max_new_tokens: int = 512
    max_messages: int = 32
    sizes: tuple[str, ...] = field(default_factory=tuple)  # "WxH" strings the server renders


def sizes_for(native_h: int, native_w: int, multiple: int = 32) -> tuple[str, ...]:
    """Half, native and double the model's native size (native first), kept to multiples it can draw."""
    out = [f"{native_w}x{native_h}"]
    for scale in (0.5, 2.0):
        w, h = int(native_w * scale), int(native_h * scale)
        if min(w, h) >= multiple and w % multiple == 0 and h % multiple == 0:
            out.append(f"{w}x{h}")
    return tuple(out)


def check_prompt(prompt: str, limits: Limits, param: str = "prompt") -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise LimitError(f"'{param}' must be a non-empty string", param=param)
    if len(prompt) > limits.max_prompt_chars:
        raise LimitError(
            f"'{param}' is {len(prompt)} characters, over the limit of {limits.max_prompt_chars}", param=param
        )
    return prompt


def check_negative(text: str | None, limits: Limits) -> str:
    text = text or ""
    if len(text) > limits.max_prompt_chars:
        raise LimitError(
            f"'negative_prompt' is {len(text)} characters, over the limit of {limits.max_prompt_chars}",
            param="negative_prompt",
        )
    return text


def check_n(n: int, limits: Limits) -> int:
    if not 1 <= n <= limits.max_n:
        raise LimitError(f"'n' must be between 1 and {limits.max_n} (limit max_n={limits.max_n}), got {n}", param="n")
    return n


def check_steps(steps: int, limits: Limits) -> int:
    if not limits.min_steps <= steps <= limits.max_steps:
        raise LimitError(
            f"'steps' must be between {limits.min_steps} and {limits.max_steps} (limit max_steps), got {steps}",
            param="steps",
        )
    return steps


def check_guidance(value: float, limits: Limits, param: str) -> float:
    if not 0.0 <= value <= limits.max_guidance:
        raise LimitError(f"'{param}' must be between 0 and {limits.max_guidance}, got {value}", param=param)
    return float(value)


def check_guidance_interval(value) -> tuple[float, float] | None:
    """None (the model's default) or [lo, hi] with 0 <= lo < hi <= 1: guide only at noise levels sigma in it."""
    from ..config import check_interval

    try:
        return check_interval(value, name="'guidance_interval'")
    except ValueError as e:
        raise LimitError(str(e), param="guidance_interval") from None


def parse_size(size: str | None, limits: Limits) -> tuple[int, int]:
    """'WxH' -> (height, width); only sizes in `limits.sizes` are served. None means native size."""
    if size is None or size == "auto":
        size = limits.sizes[0]
    if size not in limits.sizes:
        raise LimitError(f"unknown 'size' {size!r}; this server renders {', '.join(limits.sizes)}", param="size")
    w, h = (int(v) for v in size.split("x"))
    return h, w


def check_upload_bytes(nbytes: int, limits: Limits, what: str = "image") -> None:
    if nbytes > limits.max_upload_bytes:
        raise LimitError(
            f"{what} is over the upload limit of {limits.max_upload_bytes} bytes (max_upload_bytes)", status=413
        )


def check_image_count(count: int, limits: Limits) -> None:
    if count < 1:
        raise LimitError("at least one 'image' part is required", param="image")
    if count > limits.max_images_per_edit:
        raise LimitError(
            f"{count} images sent, over the limit of {limits.max_images_per_edit} (max_images_per_edit)", param="image"
        )


def check_max_tokens(value: int | None, limits: Limits) -> int:
    if value is None:
        return min(128, limits.max_new_tokens)
    if not 1 <= value <= limits.max_new_tokens:
        raise LimitError(
            f"'max_tokens' must be between 1 and {limits.max_new_tokens} (limit max_new_tokens), got {value}",
            param="max_tokens",
        )
    return value


MAX_STOPS = 4


def check_stop(stop, limits: Limits) -> tuple[str, ...]:
    """OpenAI's `stop`: one string or up to 4."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > MAX_STOPS:
        raise LimitError(f"'stop' takes at most {MAX_STOPS} strings, got {len(stops)}", param="stop")
    for s in stops:
        if not s or len(s) > limits.max_prompt_chars:
            raise LimitError("each 'stop' string must be non-empty and within max_prompt_chars", param="stop")
    return tuple(stops)
