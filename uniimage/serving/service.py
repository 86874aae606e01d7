"""The model behind one queue: turns checked request fields into jobs and waits for their results.

The HTTP API and the Gradio UI both go through here, so both obey the same limits and the same queue.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Callable, Optional

from PIL import Image

from . import limits as L
from .queue import Job, JobCancelled, JobTimeout, WorkQueue
from .files import FileStore
from .openai_images import default_steps, partial_steps
from .runner import ChatWork, ImageWork, run_chat, run_images

MAX_SEED = 2**63 - 1


class Service:
    def __init__(self, pipe, limits: L.Limits, max_queue: int = 16, max_batch: int = 4, timeout_s: float = 300.0,
                 image_url_hosts: tuple[str, ...] = ()):
        self.pipe = pipe
        self.image_url_hosts = tuple(h.lower() for h in image_url_hosts)  # hosts chat image URLs may come from
        self.model_id = str(getattr(pipe, "name_or_path", "uniimage"))
        self.limits = limits
        self.timeout_s = timeout_s
        self.queue = WorkQueue(max_queue=max_queue, max_batch=max_batch)
        self.started = int(time.time())
        self._run_images = run_images(pipe)
        self._run_chat = run_chat(pipe)
        self.files = FileStore()  # images handed out by URL

    # -- building jobs -----------------------------------------------------------------------------
    def image_job(
        self,
        prompt: str,
        *,
        n: int = 1,
        size: Optional[str] = None,
        negative_prompt: Optional[str] = "",
        seed: Optional[int] = None,
        steps: Optional[int] = None,
        guidance_scale: Optional[float] = None,
        guidance_interval: Optional[tuple[float, float]] = None,
        images: Optional[list[Image.Image]] = None,
        image_guidance_scale: Optional[float] = None,
        partial_images: int = 0,
        on_partial: Optional[Callable] = None,
    ) -> Job:
        lim = self.limits
        height, width = L.parse_size(size, lim)
        work = ImageWork(
            prompt=L.check_prompt(prompt, lim),
            negative_prompt=L.check_negative(negative_prompt, lim),
            n=L.check_n(n, lim),
            height=height,
            width=width,
            steps=L.check_steps(default_steps(lim) if steps is None else steps, lim),
            guidance_scale=L.check_guidance(4.5 if guidance_scale is None else guidance_scale, lim, "guidance_scale"),
            guidance_interval=L.check_guidance_interval(guidance_interval),
            seed=self.pick_seed(seed),
            images=images,
            image_guidance_scale=L.check_guidance(
                1.5 if image_guidance_scale is None else image_guidance_scale, lim, "image_guidance_scale"
            ),
            on_partial=on_partial,
        )
        work.partial_steps = partial_steps(work.steps, partial_images) if on_partial is not None else ()
        return Job(self._run_images, work, key=work.batch_key(), timeout_s=self.timeout_s)

    def chat_job(
        self,
        images: list[Image.Image],
        question: str,
        *,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        sink: Optional[Callable] = None,
        history: Optional[list[dict]] = None,
        stop: Optional[list[str] | str] = None,
        seed: Optional[int] = None,
    ) -> Job:
        if temperature is not None and not 0.0 <= temperature <= 2.0:
            raise L.LimitError(f"'temperature' must be between 0 and 2, got {temperature}", param="temperature")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise L.LimitError(f"'top_p' must be in (0, 1], got {top_p}", param="top_p")
        # Greedy unless the client asks for sampling: answers about an image should be reproducible.
        sample = bool(temperature)
        work = ChatWork(
            images=images,
            question=L.check_prompt(question, self.limits, "question"),
            max_new_tokens=L.check_max_tokens(max_tokens, self.limits),
            do_sample=sample,
            temperature=temperature if sample else 1.0,
            top_p=top_p if (sample and top_p is not None) else 1.0,
            sink=sink,
            history=self._check_history(history or []),
            stop=L.check_stop(stop, self.limits),
            seed=None if seed is None else self.pick_seed(seed),
        )
        return Job(self._run_chat, work, timeout_s=self.timeout_s)

    def _check_history(self, history: list[dict]) -> list[dict]:
        total = sum(len(turn["content"]) for turn in history)
        cap = self.limits.max_prompt_chars * 4
        if total > cap:
            raise L.LimitError(f"the conversation is {total} characters, over the limit of {cap}", param="messages")
        return history

    @property
    def default_guidance_interval(self) -> Optional[tuple[float, float]]:
        """The interval a request without one gets: the model config's (None: guidance at every step)."""
        return self.pipe.resolve_guidance_interval()

    @staticmethod
    def pick_seed(seed: Optional[int]) -> int:
        if seed is None or seed < 0:  # -1 is the usual "randomize" convention
            return secrets.randbelow(2**31)
        if seed > MAX_SEED:
            raise L.LimitError(f"'seed' must be at most {MAX_SEED}", param="seed")
        return int(seed)

    # -- running -----------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        return self.queue.submit(job)

    async def wait(self, job: Job, is_disconnected: Callable, poll_s: float = 0.1):
        """Await a job; drop it when the client disconnects or its deadline passes."""
        fut = asyncio.wrap_future(job.future)
        while True:
            done, _ = await asyncio.wait({fut}, timeout=poll_s)
            if done:
                return fut.result()
            if job.expired():
                job.cancel()
                raise JobTimeout(f"the request took longer than the server timeout of {self.timeout_s:g} s")
            if await is_disconnected():
                job.cancel()
                raise JobCancelled("client disconnected")

    def wait_blocking(self, job: Job, on_progress: Optional[Callable] = None, poll_s: float = 0.1):
        """For the UI's worker threads: block, reporting progress, until the job settles."""
        while True:
            try:
                return job.future.result(timeout=poll_s)
            except TimeoutError:
                pass
            if job.expired():
                job.cancel()
                raise JobTimeout(f"the request took longer than the server timeout of {self.timeout_s:g} s")
            if on_progress is not None:
                on_progress(job)

    def status(self) -> dict:
        return {
            "status": "ok",
            "model": self.model_id,
            "model_loaded": self.pipe is not None,
            "queue_depth": self.queue.depth(),
            "queue_limit": self.queue.max_queue,
            "busy": self.queue.busy,
            "max_batch": self.queue.max_batch,
            "batches_run": self.queue.batches_run,
            "jobs_run": self.queue.jobs_run,
        }

    def close(self) -> None:
        self.queue.close()
