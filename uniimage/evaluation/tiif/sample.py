"""`uniimage eval tiif`: one sampler job over a TIIF-Bench prompt folder, in the official layout.

The run record (`OUT/tiif_run_<model_name>.json`) holds the model, settings and shards like every
sampler's summary, plus the prompt folder's line count per dimension: the judge checks its question
files against those counts before asking anything.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ..runner import Job
from ..sampler import SamplerSettings
from ..sharding import Shard
from .files import load_prompt_dir
from .layout import TiifLayout, build_tasks, parse_which, select_dimensions


def record_name(model_name: str) -> str:
    return f"tiif_run_{model_name}.json"


def default_model_name(model: str) -> str:
    """'tiny' -> 'tiny'; 'org/TBAC-UniImage-3B' or '/ckpt/run1/' -> its last part, made folder-safe."""
    last = Path(str(model).rstrip("/\\")).name or "model"
    name = re.sub(r"[^A-Za-z0-9_+.\-]", "_", last).lstrip("._-")
    return name or "model"


def question_dir_guess(prompts_dir: Path) -> Path | None:
    """The official folders pair `test_prompts/` with `test_eval_prompts/` (and testmini likewise)."""
    name = Path(prompts_dir).resolve().name
    if name.endswith("_prompts") and not name.endswith("_eval_prompts"):
        guess = Path(prompts_dir).resolve().with_name(name[: -len("_prompts")] + "_eval_prompts")
        return guess if guess.is_dir() else None
    return None


def judge_command(prompts_dir: Path, out_dir: Path, model_name: str) -> str:
    questions = question_dir_guess(prompts_dir)
    q = shlex.quote(str(questions)) if questions else "<EVAL_PROMPTS_DIR>"
    return ("Next, judge with any OpenAI-compatible vision model (see docs/tiif.md):\n"
            f"  uniimage eval tiif-judge --eval-prompts {q} --images {shlex.quote(str(Path(out_dir).resolve()))} "
            f"--model-name {shlex.quote(model_name)} --judge-url <URL>/v1 --judge-model <JUDGE>")


def sampling_job(prompts_dir: Path, model: str, out_dir: Path, *, model_name: str | None, which: str,
                 dimensions: str | None, limit: int | None, settings: SamplerSettings, shard: Shard,
                 device: str | None, dtype: str, progress: bool) -> Job:
    files = load_prompt_dir(prompts_dir)
    model_name = model_name or default_model_name(model)
    lengths = parse_which(which)
    dims = select_dimensions(files, dimensions)
    tasks = build_tasks(files, dims, lengths, limit)
    layout = TiifLayout(out_dir, model_name)
    record = {"tiif": {
        "model_name": model_name,
        "prompts_dir": str(Path(prompts_dir).resolve()),
        "which": list(lengths),
        "dimensions_sampled": dims,
        "limit_per_dimension": limit,
        # Every dimension of the folder, sampled or not: the judge matches question files against these.
        "prompt_files": {d: {"file": f.path.name, "prompts": len(f)} for d, f in sorted(files.items())},
    }}
    return Job(benchmark="tiif", model=model, out_dir=Path(out_dir), tasks=tasks, layout=layout,
               settings=settings, shard=shard, device=device, dtype=dtype, progress=progress,
               next_commands=lambda _: judge_command(prompts_dir, out_dir, model_name),
               summary_name=record_name(model_name), record=record)
