"""Output folder layouts. Each knows the files that make a task complete (for resuming) and writes them.

- GenEval (djghosh13/geneval evaluate_images.py): `<NNNNN>/metadata.jsonl` + `<NNNNN>/samples/<MMMM>.png`.
- DPG-Bench (ELLA compute_dpg_bench.py): `<id>.png`, a 2x2 grid of `resolution`-px tiles.
- Keyed (editing sets, prompt files): `<key>.png`, or `<key>/<MMMM>.png` with several images a prompt.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .files import save_png, save_text
from .grid import contact_sheet, dpg_grid
from .tasks import Task


class Layout:
    def __init__(self, out_dir: Path, images_per_prompt: int):
        self.out_dir = Path(out_dir)
        self.images_per_prompt = images_per_prompt

    def outputs(self, task: Task) -> list[Path]:
        raise NotImplementedError

    def write(self, task: Task, images: list[Image.Image]) -> None:
        raise NotImplementedError

    def is_done(self, task: Task) -> bool:
        return all(p.is_file() for p in self.outputs(task))

    def bind(self, pipe) -> None:
        """Settle what depends on the model (pipe is None when nothing was left to sample)."""

    def describe(self) -> dict:
        return {"name": self.name, "images_per_prompt": self.images_per_prompt}


class GenEvalLayout(Layout):
    name = "geneval"

    def __init__(self, out_dir: Path, images_per_prompt: int, grid: bool = True):
        super().__init__(out_dir, images_per_prompt)
        self.grid = grid

    def _folder(self, task: Task) -> Path:
        return self.out_dir / task.key

    def _samples(self, task: Task) -> list[Path]:
        return [self._folder(task) / "samples" / f"{m:04d}.png" for m in range(self.images_per_prompt)]

    def outputs(self, task: Task) -> list[Path]:
        return [*self._samples(task), self._folder(task) / "metadata.jsonl"]

    def write(self, task: Task, images: list[Image.Image]) -> None:
        for image, path in zip(images, self._samples(task), strict=True):
            save_png(image, path)
        if self.grid:
            save_png(contact_sheet(images), self._folder(task) / "grid.png")
        # Written last: the scorer json.load()s it whole, and its presence marks the folder complete.
        save_text(task.source_line + "\n", self._folder(task) / "metadata.jsonl")


class DpgLayout(Layout):
    name = "dpg"

    def __init__(self, out_dir: Path, images_per_prompt: int, resolution: int | None = None):
        super().__init__(out_dir, images_per_prompt)
        self.resolution = resolution

    def bind(self, pipe) -> None:
        if self.resolution is not None:
            return
        if pipe is not None:
            self.resolution = int(pipe.default_height)
            return
        # Nothing left to sample and no --resolution: read it back from a finished grid.
        for path in sorted(self.out_dir.glob("*.png"))[:1]:
            with Image.open(path) as grid:
                self.resolution = grid.width // (1 if self.images_per_prompt == 1 else 2)

    def describe(self) -> dict:
        return {**super().describe(), "resolution": self.resolution}

    def outputs(self, task: Task) -> list[Path]:
        return [self.out_dir / f"{task.key}.png"]

    def write(self, task: Task, images: list[Image.Image]) -> None:
        save_png(dpg_grid(images, self.resolution), self.outputs(task)[0])


class KeyedLayout(Layout):
    name = "keyed"

    def outputs(self, task: Task) -> list[Path]:
        if self.images_per_prompt == 1:
            return [self.out_dir / f"{task.key}.png"]
        return [self.out_dir / task.key / f"{m:04d}.png" for m in range(self.images_per_prompt)]

    def write(self, task: Task, images: list[Image.Image]) -> None:
        for image, path in zip(images, self.outputs(task), strict=True):
            save_png(image, path)
