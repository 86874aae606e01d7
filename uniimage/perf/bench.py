"""The bench: our pipeline (and optionally the naive reference, alternating with it) at several batch
sizes; seconds per image by phase, images per second, peak memory, and whether the outputs agree."""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch
from PIL import Image

from ..utils.dtypes import torch_dtype
from .baseline import naive_generate
from .timing import PeakMemory, phase_clock, sync

PROMPTS = [
    "a red cube on a blue table", "a lighthouse at dusk, oil painting", "two cats sleeping on a sofa",
    "a bowl of ramen, top view", "a city skyline in the rain", "a green bicycle leaning on a wall",
    "an astronaut riding a horse", "a snowy mountain cabin at night", "a vase of sunflowers",
    "a robot reading a book", "a sailing boat on a calm lake", "a plate of sushi on slate",
    "a fox in an autumn forest", "a steaming cup of coffee", "a stained glass window", "a desert with cacti",
]


@dataclass
class BenchSettings:
    model: str = "tiny"
    device: str = "cpu"
    dtype: str = "float32"
    batches: list[int] = field(default_factory=lambda: [1, 4, 16])
    steps: int = 30
    repeats: int = 3
    warmup: int = 1
    baseline: bool = False
    baseline_max_batch: int | None = None  # the naive reference is slow: skip it above this batch
    offload: str | None = None  # None | "model" | "sequential"
    compile: bool = False
    edit: bool = False  # an input image per prompt: editing CFG (three rows a prompt)
    guidance_scale: float = 4.5
    image_guidance_scale: float = 1.5
    seed: int = 0


def load_bench_pipeline(settings: BenchSettings):
    """Presets without weights get seeded random ones (built straight on a GPU if there is one:
    initialising billions of weights is slow on a CPU); anything else goes through from_pretrained."""
    from ..pipelines.pipeline_uniimage import UniImagePipeline
    from ..pipelines.schedulers import load_sampler
    from ..presets import build_preset, preset_folder

    dtype = torch_dtype(settings.dtype)
    folder = preset_folder(settings.model)
    if folder is not None and not any(folder.glob("*.safetensors")):
        try:
            build_on = torch.device(settings.device) if torch.device(settings.device).type == "cuda" else torch.device("cpu")
            with build_on:
                model, processor, components = build_preset(settings.model, dtype, seed=settings.seed)
        except Exception:  # some initialiser refused the GPU: build on the CPU, slower but sure
            model, processor, components = build_preset(settings.model, dtype, seed=settings.seed)
        pipe = UniImagePipeline.from_model(model, processor, load_sampler(components.scheduler_dir), components, settings.model)
    else:
        pipe = UniImagePipeline.from_pretrained(settings.model, torch_dtype=dtype)
    if settings.offload == "model":
        pipe.to("cpu").enable_model_cpu_offload(device=settings.device)
    elif settings.offload == "sequential":
        pipe.to("cpu").enable_sequential_cpu_offload(device=settings.device)
    else:
        pipe.to(settings.device)
    if settings.compile:
        pipe.compile()
    return pipe


def _inputs(settings: BenchSettings, batch: int, pipe):
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    if not settings.edit:
        return prompts, None
    size = (pipe.default_width, pipe.default_height)
    # One distinct, deterministic input image per prompt.
    images = [Image.linear_gradient("L").resize(size).rotate(30 * i).convert("RGB") for i in range(batch)]
    return prompts, images


def _call_kwargs(settings: BenchSettings):
    return dict(guidance_scale=settings.guidance_scale, image_guidance_scale=settings.image_guidance_scale,
                num_inference_steps=settings.steps)


def time_ours(pipe, settings, prompts, images, memory: PeakMemory):
    device = pipe._execution_device
    memory.reset()
    with phase_clock(pipe, device) as spent:
        start = time.perf_counter()
        out = pipe(prompts, image=images, generator=torch.Generator().manual_seed(settings.seed), output_type="pt",
                   progress=False, **_call_kwargs(settings)).images
        sync(device)
        total = time.perf_counter() - start
    phases = {"mllm": spent["mllm"], "dit": total - spent["mllm"] - spent["vae"], "vae": spent["vae"]}
    return out.float().cpu(), total, phases, memory.peak()


def time_baseline(pipe, settings, prompts, images, memory: PeakMemory):
    memory.reset()
    phases: dict = {}
    start = time.perf_counter()
    out = naive_generate(pipe, prompts, image=images, generator=torch.Generator().manual_seed(settings.seed),
                         timings=phases, **_call_kwargs(settings))
    sync(pipe._execution_device)
    return out.float().cpu(), time.perf_counter() - start, phases, memory.peak()


def _summary(runs, batch: int) -> dict:
    """Median over repeats; per-image figures divide by the batch."""
    total = statistics.median(r[1] for r in runs)
    phases = {k: statistics.median(r[2][k] for r in runs) / batch for k in ("mllm", "dit", "vae")}
    return {"seconds_per_call": total, "seconds_per_image": {**phases, "total": total / batch},
            "images_per_second": batch / total, "peak_memory_bytes": max(r[3] for r in runs),
            "repeats_seconds": [r[1] for r in runs]}


def _agreement(ours: torch.Tensor, theirs: torch.Tensor, dtype: str) -> dict:
    diff = (ours - theirs).abs()
    # float32 must match to about a grey level; half precision drifts over steps, so judge the mean there.
    ok = bool(diff.max() <= 2 / 255) if dtype == "float32" else bool(diff.mean() <= 0.02)
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "outputs_agree": ok}


def bench_batch(pipe, settings: BenchSettings, batch: int, memory: PeakMemory) -> dict:
    prompts, images = _inputs(settings, batch, pipe)
    with_baseline = settings.baseline and (settings.baseline_max_batch is None or batch <= settings.baseline_max_batch)
    start = time.perf_counter()
    for _ in range(settings.warmup):  # the first call fills the negative-prompt cache (and compiles)
        time_ours(pipe, settings, prompts, images, memory)
    first_call = (time.perf_counter() - start) / settings.warmup if settings.warmup else None
    # The baseline is not warmed separately: it runs the same modules ours just warmed, and it is slow.
    ours, theirs = [], []
    for _ in range(settings.repeats):  # alternate, so a loaded machine slows both alike
        ours.append(time_ours(pipe, settings, prompts, images, memory))
        if with_baseline:
            theirs.append(time_baseline(pipe, settings, prompts, images, memory))
    result = {"batch": batch, "ours": {**_summary(ours, batch), "warmup_seconds_per_call": first_call}}
    if with_baseline:
        result["baseline"] = _summary(theirs, batch)
        result["speedup"] = result["baseline"]["seconds_per_call"] / result["ours"]["seconds_per_call"]
        result.update(_agreement(ours[-1][0], theirs[-1][0], settings.dtype))
    return result


def run_bench(settings: BenchSettings, pipe=None, log=None) -> dict:
    """One JSON-ready object: the settings, the environment, one entry per batch size."""
    load_start = time.perf_counter()
    pipe = pipe if pipe is not None else load_bench_pipeline(settings)
    load_seconds = time.perf_counter() - load_start
    memory = PeakMemory(pipe._execution_device)
    results = []
    for batch in settings.batches:
        if log:
            log(f"batch {batch}...")
        results.append(bench_batch(pipe, settings, batch, memory))
    params = sum(p.numel() for p in pipe.model.parameters())
    return {
        "settings": asdict(settings),
        "environment": {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
                        "device_name": torch.cuda.get_device_name(pipe._execution_device) if pipe._execution_device.type == "cuda" else platform.processor() or "cpu",
                        "parameters": params, "load_seconds": load_seconds, "memory_measure": memory.kind},
        "results": results,
    }
