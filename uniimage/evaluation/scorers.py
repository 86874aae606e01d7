"""The official scorers live in other projects; after sampling we print the exact command to run next."""

from __future__ import annotations

import shlex
from pathlib import Path


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def geneval_commands(out_dir: Path) -> list[str]:
    """Run in a checkout of djghosh13/geneval (Mask2Former weights from its evaluation/download_models.sh)."""
    out_dir = Path(out_dir).resolve()
    results = out_dir.parent / f"{out_dir.name}_geneval_results.jsonl"
    return [
        f"python evaluation/evaluate_images.py {_q(out_dir)} --outfile {_q(results)} --model-path <MASK2FORMER_DIR>",
        f"python evaluation/summary_scores.py {_q(results)}",
    ]


def dpg_commands(out_dir: Path, resolution: int, pic_num: int) -> list[str]:
    """Run in a checkout of TencentQQGYLab/ELLA (reads dpg_bench/dpg_bench.csv; add GPUs to --num_processes)."""
    out_dir = Path(out_dir).resolve()
    results = out_dir.parent / f"{out_dir.name}_dpg_results.txt"
    return [
        "accelerate launch --num_machines 1 --num_processes 1 dpg_bench/compute_dpg_bench.py "
        f"--image-root-path {_q(out_dir)} --resolution {resolution} --pic-num {pic_num} "
        f"--vqa-model mplug --res-path {_q(results)}"
    ]


def clip_score_commands(out_dir: Path, prompts_file: Path) -> list[str]:
    return [f"uniimage metrics clip-score {_q(Path(out_dir).resolve())} {_q(Path(prompts_file).resolve())}"]


def format_next(where: str, commands: list[str]) -> str:
    lines = [f"Next, score with the official scorer (in a checkout of {where}):"] if where else ["Next:"]
    return "\n".join(lines + [f"  {c}" for c in commands])
