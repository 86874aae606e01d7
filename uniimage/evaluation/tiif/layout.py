"""The official TIIF-Bench image layout: `OUT/<dimension>/<model_name>/<short|long>_description/<i>.png`,
`<i>` the prompt's 0-based line in its dimension's file, one image a prompt."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ...errors import InputError
from ..files import save_png
from ..layouts import Layout
from ..tasks import Task
from .files import LENGTHS, PromptFile, check_name


def image_path(root: Path, dimension: str, model_name: str, length: str, index: int) -> Path:
    return Path(root) / dimension / model_name / f"{length}_description" / f"{index}.png"


def line_seed_index(dimension: str, line: int) -> int:
    """The seed index of a prompt line: a function of (dimension, line) alone, so `--dimensions`, `--limit`
    and `--which` never change an image, and the short and long version of a line share their noise
    (the benchmark compares them)."""
    return int.from_bytes(hashlib.sha256(f"tiif:{dimension}:{line}".encode()).digest()[:4], "little")


def parse_which(which: str) -> tuple[str, ...]:
    if which == "both":
        return LENGTHS
    if which in LENGTHS:
        return (which,)
    raise InputError(f"--which must be short, long or both, got {which!r}")


def select_dimensions(files: dict[str, PromptFile], wanted: str | None) -> list[str]:
    if not wanted:
        return sorted(files)
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [n for n in names if n not in files]
    if unknown:
        raise InputError(f"--dimensions: {', '.join(unknown)} not in the prompt folder (it has: {', '.join(sorted(files))})")
    return sorted(set(names))


def build_tasks(files: dict[str, PromptFile], dimensions: list[str], lengths: tuple[str, ...],
                limit: int | None = None) -> list[Task]:
    """Dimension by dimension, line by line, short before long; `limit` is per dimension (first N lines),
    so a quick run still touches every dimension."""
    tasks = []
    for dim in dimensions:
        pf = files[dim]
        for line in range(len(pf) if limit is None else min(limit, len(pf))):
            for length in lengths:
                tasks.append(Task(index=line_seed_index(dim, line), key=f"{dim}/{length}/{line}",
                                  prompt=pf.prompts(length)[line]))
    return tasks


class TiifLayout(Layout):
    name = "tiif"

    def __init__(self, out_dir: Path, model_name: str):
        super().__init__(out_dir, images_per_prompt=1)
        self.model_name = check_name(model_name, "--model-name")

    def describe(self) -> dict:
        return {**super().describe(), "model_name": self.model_name}

    def outputs(self, task: Task) -> list[Path]:
        dim, length, line = task.key.split("/")
        return [image_path(self.out_dir, dim, self.model_name, length, int(line))]

    def write(self, task: Task, images) -> None:
        (image,) = images
        save_png(image, self.outputs(task)[0])
