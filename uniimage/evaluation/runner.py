"""One benchmark run end to end: shard, skip what is done, load the model only if needed, sample,
write the summary, print the next (scoring) command."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..utils.dtypes import torch_dtype
from .layouts import Layout
from .sampler import SamplerSettings, run_sampler, select_tasks
from .sharding import Shard, effective_shard, is_launched, launched_processes, partial_state
from .summary import SUMMARY_NAME, run_entry, update_summary
from .tasks import Task


@dataclass
class Job:
    benchmark: str  # geneval | dpg | edit | prompts
    model: str
    out_dir: Path
    tasks: list[Task]
    layout: Layout
    settings: SamplerSettings
    shard: Shard = Shard()
    device: str | None = None
    dtype: str = "auto"
    progress: bool = True
    # Lines to print once every prompt is done, given the bound layout (DPG needs the resolution).
    next_commands: Callable[[Layout], str] | None = None
    # The run record's file name in out_dir, and benchmark-specific fields for its header.
    summary_name: str = SUMMARY_NAME
    record: dict = field(default_factory=dict)


def pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    if is_launched():
        return str(partial_state().device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(model: str, device: str, dtype: str):
    """Import late: `uniimage eval --help` and finished resumes never pay for the model stack."""
    from .. import UniImagePipeline

    pipe = UniImagePipeline.from_pretrained(model)
    pipe.to(device)
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    pipe.to(torch_dtype(dtype))
    return pipe, dtype


def _count_complete(job: Job) -> tuple[int, int]:
    selected = select_tasks(job.tasks, job.settings.limit)
    return sum(job.layout.is_done(t) for t in selected), len(selected)


def _wait_for_other_processes(num_processes: int) -> None:
    if num_processes > 1:
        partial_state().wait_for_everyone()


def run_job(job: Job, pipe=None) -> dict:
    """Returns the merged summary. `pipe` may be given (tests, notebooks); else it is loaded on demand."""
    rank, world = launched_processes()
    shard = effective_shard(job.shard, rank, world)
    device, dtype, load_s = pick_device(job.device), job.dtype, 0.0
    mine = shard.select(select_tasks(job.tasks, job.settings.limit))
    if pipe is None and any(not job.layout.is_done(t) for t in mine):
        start = time.perf_counter()
        pipe, dtype = load_pipeline(job.model, device, dtype)
        load_s = time.perf_counter() - start
    job.layout.bind(pipe)
    result = run_sampler(pipe, job.tasks, job.layout, job.settings, shard, progress=job.progress and rank == 0)
    _wait_for_other_processes(world)
    complete, selected = _count_complete(job)
    header = {"benchmark": job.benchmark, "model": job.model, "out_dir": str(job.out_dir.resolve()),
              "settings": job.settings.as_dict(), "layout": job.layout.describe(), **job.record}
    entry = run_entry(result, job.settings, shard, {"model_load_s": round(load_s, 3)}, device, dtype)
    summary = update_summary(job.out_dir, header, entry, complete, selected, job.summary_name)
    if rank == 0:
        _report(job, shard, result, complete, selected)
    return summary


def _report(job: Job, shard: Shard, result, complete: int, selected: int) -> None:
    who = f"{job.benchmark} (shard {shard})" if shard.count > 1 else job.benchmark
    print(
        f"{who}: sampled {result.generated} prompts ({result.images} images) in {result.seconds:.1f}s, "
        f"skipped {result.skipped} already complete; {complete}/{selected} prompts complete in {job.out_dir}"
    )
    if complete < selected:
        print(f"{selected - complete} prompts still missing (other shards, or rerun the same command to resume).")
    elif job.next_commands is not None:
        print(job.next_commands(job.layout))
