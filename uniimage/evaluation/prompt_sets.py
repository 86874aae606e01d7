"""The shipped benchmark prompt sets, loaded from package data."""

from __future__ import annotations

import json
from importlib import resources

from .tasks import Task, check_key

GENEVAL_FILE = "geneval_metadata.jsonl"
DPG_FILE = "dpg_prompts.jsonl"


def _lines(name: str) -> list[str]:
    text = resources.files("uniimage.evaluation.data").joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def load_geneval() -> list[Task]:
    """553 tasks; folder `NNNNN` is the N-th metadata line, kept verbatim for the scorer."""
    tasks = []
    for i, line in enumerate(_lines(GENEVAL_FILE)):
        tasks.append(Task(index=i, key=f"{i:05d}", prompt=json.loads(line)["prompt"], source_line=line))
    return tasks


def load_dpg() -> list[Task]:
    """1,065 tasks keyed by their DPG id: the scorer looks questions up by the PNG's file stem."""
    tasks = []
    for i, line in enumerate(_lines(DPG_FILE)):
        row = json.loads(line)
        tasks.append(Task(index=i, key=check_key(str(row["id"]), DPG_FILE), prompt=row["prompt"]))
    return tasks
