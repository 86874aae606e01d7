"""What the worker thread does with a batch of jobs: the only code here that calls the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from PIL import Image

from .answer import Answer, AnswerStreamer, StopAnswer
from .queue import Job, JobCancelled


@dataclass
class ImageWork:
    """One generation or edit request, already validated."""

    prompt: str
    negative_prompt: str
    n: int
    height: int
    width: int
    steps: int
    guidance_scale: float
    seed: int
    guidance_interval: Optional[tuple[float, float]] = None  # None: the model config's default
    images: Optional[list[Image.Image]] = None  # edit inputs; None for text-to-image
    image_guidance_scale: float = 1.5
    partial_steps: tuple[int, ...] = ()  # 0-based steps after which to send a preview
    on_partial: Optional[Callable[[int, int, Image.Image], Any]] = field(default=None, repr=False)  # (image, k, preview)

    def batch_key(self):
        """Requests that can share one pipeline call: text-to-image with the same settings.

        Edits run alone: their conditioning images differ in count and size per request. Prompts and
        negative prompts may differ: the pipeline takes one of each per row.
        """
        if self.images is not None:
            return None
        return ("generate", self.steps, self.height, self.width, self.guidance_scale, self.guidance_interval, self.n)


@dataclass
class ChatWork:
    images: list[Image.Image]
    question: str
    max_new_tokens: int
    history: list[dict] = field(default_factory=list)  # earlier turns as text: [{"role", "content"}]
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: Optional[int] = None
    sink: Optional[Callable[[Optional[str]], Any]] = field(default=None, repr=False)  # set => stream pieces


def _step_callback(jobs: list[Job], total: int, n: int):
    """diffusers-style callback: reports progress, sends previews decoded from the sampler's clean-latent
    estimate (`denoised`) to the jobs that asked for them, and stops sampling once every
    client has gone."""

    def callback(pipe, step_index, timestep, callback_kwargs):
        for job in jobs:
            job.progress = (step_index + 1, total)
        if all(job.cancelled.is_set() for job in jobs):
            raise JobCancelled("every client of this batch went away")
        for j, job in enumerate(jobs):
            work: ImageWork = job.payload
            if step_index in work.partial_steps and work.on_partial is not None and not job.cancelled.is_set():
                k = work.partial_steps.index(step_index)
                clean = callback_kwargs["denoised"][j * n : (j + 1) * n]
                for i, preview in enumerate(pipe.decode_latents(clean, "pil")):
                    work.on_partial(i, k, preview)
        return {"latents": callback_kwargs["latents"]}

    return callback


def run_images(pipe) -> Callable[[list[Job]], list[list[Image.Image]]]:
    def run(jobs: list[Job]) -> list[list[Image.Image]]:
        works: list[ImageWork] = [job.payload for job in jobs]
        first = works[0]
        # One generator per prompt keeps each request's seed meaningful inside a shared batch.
        generators = [torch.Generator(device="cpu").manual_seed(w.seed) for w in works]
        images = None if first.images is None else [w.images for w in works]
        previews = any(w.partial_steps and w.on_partial is not None for w in works)
        out = pipe(
            [w.prompt for w in works],
            image=images,
            negative_prompt=[w.negative_prompt for w in works],
            guidance_scale=first.guidance_scale,
            guidance_interval=first.guidance_interval,
            image_guidance_scale=first.image_guidance_scale,
            num_inference_steps=first.steps,
            num_images_per_prompt=first.n,
            generator=generators,
            output_type="pil",
            height=first.height,
            width=first.width,
            callback_on_step_end=_step_callback(jobs, first.steps, first.n),
            callback_on_step_end_tensor_inputs=["latents", "denoised"] if previews else ["latents"],
            progress=False,
        )
        n = first.n
        return [list(out.images[i * n : (i + 1) * n]) for i in range(len(works))]

    return run


def run_chat(pipe) -> Callable[[list[Job]], list[Answer]]:
    def run(jobs: list[Job]) -> list[Answer]:
        job = jobs[0]  # chat jobs carry no batch key: always alone
        work: ChatWork = job.payload
        streamer = AnswerStreamer(pipe.processor.tokenizer, work.stop, work.sink, job.cancelled)
        if work.seed is not None:
            torch.manual_seed(work.seed)  # one worker thread: the global generator is ours for this job
        try:
            pipe.understand_ids(work.images or None, work.question, max_new_tokens=work.max_new_tokens,
                                do_sample=work.do_sample, temperature=work.temperature, top_p=work.top_p,
                                history=work.history or None, streamer=streamer)
        except StopAnswer:
            pass
        finally:
            if work.sink is not None:
                work.sink(None)  # end of stream, also on error, so the reader never hangs
        if job.cancelled.is_set():
            raise JobCancelled("the client went away")
        return [streamer.answer(work.max_new_tokens)]

    return run
