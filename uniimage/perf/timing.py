"""Clocks and peak memory that mean the same on CPU and GPU."""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path

import torch


def sync(device) -> None:
    """GPU work is asynchronous: wait for it before reading a clock."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """CUDA: max allocated bytes since reset. CPU: the process's peak resident set (VmHWM), which
    Linux lets us reset by writing 5 to /proc/self/clear_refs; elsewhere ru_maxrss (never resets)."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.kind = "cuda_max_allocated" if self.device.type == "cuda" else "peak_rss"

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def peak(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.contextmanager
def phase_clock(pipe, device):
    """Times the pipeline's conditioning and decode by wrapping them on this instance only;
    the DiT phase is the rest of the call (steps, guidance, scheduler)."""
    spent = {"mllm": 0.0, "vae": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            sync(device)
            spent[name] += time.perf_counter() - start
            return out
        return wrapper

    pipe.encode_prompt = timed("mllm", pipe.encode_prompt)
    pipe.decode_latents = timed("vae", pipe.decode_latents)
    try:
        yield spent
    finally:
        del pipe.encode_prompt, pipe.decode_latents  # back to the class's methods
