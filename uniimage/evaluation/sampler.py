"""The sampling loop shared by every benchmark: pick this shard's unfinished tasks, run the pipeline
with per-prompt seeds, hand the images to the layout."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from tqdm.auto import tqdm

from ..utils.images import load_image
from .layouts import Layout
from .seeds import prompt_generator
from .sharding import Shard
from .tasks import Task


@dataclass
class SamplerSettings:
    images_per_prompt: int = 4
    steps: int = 30
    guidance: float = 4.5
    image_guidance: float = 1.5  # editing only
    negative_prompt: str = ""
    seed: int = 0
    height: int | None = None  # None: the pipeline's native size
    width: int | None = None
    batch_size: int = 1  # prompts per pipeline call
    limit: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SamplerResult:
    prompts_total: int  # in the whole set
    prompts_selected: int  # after --limit
    prompts_in_shard: int
    generated: int = 0  # prompts sampled by this run
    skipped: int = 0  # already complete on disk
    images: int = 0
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)  # tasks this run sampled

    def as_dict(self) -> dict:
        out = asdict(self)
        del out["keys"]
        return out


def select_tasks(tasks: list[Task], limit: int | None) -> list[Task]:
    return tasks if limit is None else tasks[:limit]


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pipeline_kwargs(batch: list[Task], s: SamplerSettings) -> dict:
    kwargs = dict(
        prompt=[t.prompt for t in batch],
        negative_prompt=s.negative_prompt,
        guidance_scale=s.guidance,
        num_inference_steps=s.steps,
        num_images_per_prompt=s.images_per_prompt,
        # One generator per prompt, seeded by the prompt's index: batch composition does not matter.
        generator=[prompt_generator(s.seed, t.index) for t in batch],
        height=s.height,
        width=s.width,
        output_type="pil",
        progress=False,  # the outer bar counts prompts
    )
    if any(t.images for t in batch):
        # One list per prompt, so one prompt with several input images is never read as several prompts.
        kwargs["image"] = [[load_image(p) for p in t.images] for t in batch]
        kwargs["image_guidance_scale"] = s.image_guidance
    return kwargs


def _generate(pipe, batch: list[Task], s: SamplerSettings) -> list[list]:
    images = list(pipe(**_pipeline_kwargs(batch, s)).images)
    k = s.images_per_prompt
    if len(images) != len(batch) * k:
        raise RuntimeError(f"pipeline returned {len(images)} images for {len(batch)} prompts x {k}")
    return [images[i * k : (i + 1) * k] for i in range(len(batch))]


def run_sampler(
    pipe,
    tasks: list[Task],
    layout: Layout,
    settings: SamplerSettings,
    shard: Shard = Shard(),
    progress: bool = True,
) -> SamplerResult:
    selected = select_tasks(tasks, settings.limit)
    mine = shard.select(selected)
    todo = [t for t in mine if not layout.is_done(t)]
    result = SamplerResult(len(tasks), len(selected), len(mine), skipped=len(mine) - len(todo))
    start = time.perf_counter()
    with tqdm(total=len(mine), initial=result.skipped, unit="prompt", disable=not progress) as bar:
        for batch in _batches(todo, settings.batch_size):
            for task, images in zip(batch, _generate(pipe, batch, settings)):
                layout.write(task, images)
                result.keys.append(task.key)
            result.generated += len(batch)
            result.images += len(batch) * settings.images_per_prompt
            bar.update(len(batch))
    result.seconds = time.perf_counter() - start
    return result
