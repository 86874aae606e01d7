"""The Gradio page: Generate / Edit / Understand tabs, all through the same Service (limits, queue)."""

from __future__ import annotations

import queue as stdqueue
import threading
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from ..errors import InputError
from .encode import decode_upload
from .limits import LimitError, check_image_count
from .queue import JobCancelled, JobTimeout, QueueFull
from .service import Service

NEGATIVE_PRESETS = {
    "none": "",
    "low quality": "low quality, blurry, jpeg artifacts, noisy, deformed",
    "photo defects": "overexposed, underexposed, out of focus, motion blur, lens flare",
    "text and watermarks": "text, watermark, signature, logo, caption",
}

PREVIEWS = 3  # previews per image while it forms, as OpenAI's partial_images allows at most
EMPTY_ANSWER = "(the model answered with whitespace only)"
USER_ERRORS = (InputError, QueueFull, JobTimeout, JobCancelled)


def _negative(preset: str, extra: str) -> str:
    return ", ".join(p for p in (NEGATIVE_PRESETS.get(preset, ""), (extra or "").strip()) if p)


def _read_upload(path: str, service: Service):
    """Gradio hands us paths of files it stored; open only those, never anything else."""
    root = Path(get_upload_folder()).resolve()
    real = Path(path).resolve()
    if not real.is_relative_to(root) or not real.is_file():
        raise LimitError("uploads are read only from the server's upload folder")
    if real.stat().st_size > service.limits.max_upload_bytes:
        raise LimitError(f"{real.name} is over the upload limit of {service.limits.max_upload_bytes} bytes", status=413)
    return decode_upload(real.read_bytes(), service.limits, real.name)


def _text_turns(history) -> list[dict]:
    """Chatbot messages -> text-only turns (images travel separately), consecutive user texts merged."""
    turns: list[dict] = []
    for message in history or []:
        content = message.get("content")
        if isinstance(content, list):  # Gradio may hand back [{"type": "text", "text": ...}, ...]
            content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str) or not content.strip():
            continue
        if turns and turns[-1]["role"] == message["role"]:
            turns[-1]["content"] += "\n" + content
        else:
            turns.append({"role": message["role"], "content": content})
    return turns


def _gallery_paths(items) -> list[str]:
    # Gallery(type="filepath") gives (path, caption) pairs.
    return [item[0] if isinstance(item, (tuple, list)) else item for item in (items or [])]


class Running:
    """The image job each browser session has in flight, so its Cancel button can stop it."""

    def __init__(self):
        self._jobs: dict[str, object] = {}
        self._lock = threading.Lock()

    def start(self, session: str, job) -> None:
        with self._lock:
            self._jobs[session] = job

    def finish(self, session: str, job) -> None:
        with self._lock:
            if self._jobs.get(session) is job:
                del self._jobs[session]

    def cancel(self, session: str) -> bool:
        with self._lock:
            job = self._jobs.pop(session, None)
        if job is None:
            return False
        job.cancel()  # a queued job leaves the queue; a running one stops at its next step
        return True


def _stream_image_job(service: Service, make_job, session: str, running: Running):
    """Yields (gallery, seed, status) while the job runs: previews decoded from the sampler's estimate of
    the clean image, then the final images. Cancel (or the page going away) cancels the job."""
    previews: stdqueue.Queue = stdqueue.Queue()
    try:
        job = service.submit(make_job(lambda i, k, img: previews.put((i, k, img))))
    except USER_ERRORS as e:
        raise gr.Error(str(e)) from e
    running.start(session, job)
    shown: dict[int, object] = {}
    said = None
    try:
        while not job.future.done():
            if job.expired():
                job.cancel()
                raise gr.Error(f"the request took longer than the server timeout of {service.timeout_s:g} s")
            try:
                i, k, img = previews.get(timeout=0.1)
                shown[i] = img
                yield [shown[j] for j in sorted(shown)], None, f"Preview {k + 1} of {PREVIEWS} (step {job.progress[0]} of {job.progress[1]})"
                continue
            except stdqueue.Empty:
                pass
            step, total = job.progress
            text = f"Sampling: step {step} of {total}" if total else f"Queued ({service.queue.depth()} waiting)"
            if text != said and not shown:
                said = text
                yield gr.skip(), None, text
        if job.future.cancelled() or isinstance(job.future.exception(), JobCancelled):
            yield gr.skip(), None, "Cancelled"
            return
        try:
            images = job.future.result()
        except USER_ERRORS as e:
            raise gr.Error(str(e)) from e
        seed = job.payload.seed
        yield images, seed, f"Done: {len(images)} image(s), seed {seed}"
    finally:
        running.finish(session, job)
        job.cancel()  # no-op once finished; stops the work when Gradio closes this generator early


def _cancel_button(prefix: str, running: Running, events):
    button = gr.Button("Cancel", variant="stop", elem_id=f"{prefix}-cancel")

    def cancel(request: gr.Request):
        running.cancel(request.session_hash)

    button.click(cancel, None, None, cancels=events, queue=False)
    return button


def _seed_controls(service: Service):
    with gr.Row():
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=2**31 - 1)
        randomize = gr.Checkbox(label="Randomize seed", value=True)
    return seed, randomize


def _sampling_controls(service: Service, edit: bool):
    lim = service.limits
    with gr.Row():
        steps = gr.Slider(lim.min_steps, lim.max_steps, value=min(30, lim.max_steps), step=1, label="Steps")
        guidance = gr.Slider(0.0, min(15.0, lim.max_guidance), value=4.5, step=0.1, label="Text guidance")
        image_guidance = gr.Slider(0.0, min(5.0, lim.max_guidance), value=1.5, step=0.1, label="Image guidance", visible=edit)
    with gr.Row():
        count = gr.Slider(1, min(4, lim.max_n), value=1, step=1, label="Number of images")
        size = gr.Dropdown(list(lim.sizes), value=lim.sizes[0], label="Size")
    lo, hi = service.default_guidance_interval or (0.0, 1.0)
    with gr.Accordion("Guidance interval (noise level sigma, 1 = pure noise)", open=False):
        with gr.Row():  # text guidance applies only to steps with lo <= sigma <= hi
            interval = (gr.Slider(0.0, 1.0, value=lo, step=0.05, label="Guide from sigma"),
                        gr.Slider(0.0, 1.0, value=hi, step=0.05, label="to sigma"))
    return steps, guidance, image_guidance, count, size, interval


def _outputs(prefix: str):
    gallery = gr.Gallery(label="Images", format="png", columns=2, buttons=["download", "fullscreen"],
                         elem_id=f"{prefix}-gallery")
    used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id=f"{prefix}-seed-used")
    status = gr.Markdown(elem_id=f"{prefix}-status")
    return gallery, used, status


def _generate_tab(service: Service, running: Running):
    prompt = gr.Textbox(label="Prompt", lines=2, max_length=service.limits.max_prompt_chars, elem_id="gen-prompt")
    with gr.Row():
        preset = gr.Dropdown(list(NEGATIVE_PRESETS), value="low quality", label="Negative preset")
        extra = gr.Textbox(label="Extra negative prompt", max_length=service.limits.max_prompt_chars)
    seed, randomize = _seed_controls(service)
    steps, guidance, _, count, size, (lo, hi) = _sampling_controls(service, edit=False)
    with gr.Row():
        button = gr.Button("Generate", variant="primary", elem_id="gen-button")
        cancel_slot = gr.Column(scale=0, min_width=120)
    gallery, used, status = _outputs("gen")

    def generate(prompt, preset, extra, seed, randomize, steps, guidance, count, size, lo, hi, request: gr.Request):
        make = lambda on_partial: service.image_job(  # noqa: E731
            prompt, n=int(count), size=size, negative_prompt=_negative(preset, extra),
            seed=None if randomize else int(seed or 0), steps=int(steps), guidance_scale=float(guidance),
            guidance_interval=(float(lo), float(hi)), partial_images=PREVIEWS, on_partial=on_partial,
        )
        yield from _stream_image_job(service, make, request.session_hash, running)

    inputs = [prompt, preset, extra, seed, randomize, steps, guidance, count, size, lo, hi]
    events = [button.click(generate, inputs, [gallery, used, status]), prompt.submit(generate, inputs, [gallery, used, status])]
    with cancel_slot:
        _cancel_button("gen", running, events)


def _edit_tab(service: Service, running: Running):
    sources = gr.Gallery(label=f"Input images (1-{service.limits.max_images_per_edit})", type="filepath",
                         interactive=True, file_types=["image"], columns=4, elem_id="edit-inputs")
    prompt = gr.Textbox(label="Instruction", lines=2, max_length=service.limits.max_prompt_chars, elem_id="edit-prompt")
    seed, randomize = _seed_controls(service)
    steps, guidance, image_guidance, count, size, (lo, hi) = _sampling_controls(service, edit=True)
    with gr.Row():
        button = gr.Button("Edit", variant="primary", elem_id="edit-button")
        cancel_slot = gr.Column(scale=0, min_width=120)
    gallery, used, status = _outputs("edit")

    def edit(items, prompt, seed, randomize, steps, guidance, image_guidance, count, size, lo, hi, request: gr.Request):
        def make(on_partial):
            paths = _gallery_paths(items)
            check_image_count(len(paths), service.limits)
            images = [_read_upload(p, service) for p in paths]
            return service.image_job(
                prompt, n=int(count), size=size, seed=None if randomize else int(seed or 0), steps=int(steps),
                guidance_scale=float(guidance), guidance_interval=(float(lo), float(hi)), images=images,
                image_guidance_scale=float(image_guidance), partial_images=PREVIEWS, on_partial=on_partial,
            )

        yield from _stream_image_job(service, make, request.session_hash, running)

    event = button.click(edit, [sources, prompt, seed, randomize, steps, guidance, image_guidance, count, size, lo, hi],
                         [gallery, used, status])
    with cancel_slot:
        _cancel_button("edit", running, [event])


def _understand_tab(service: Service):
    chatbot = gr.Chatbot(label="Conversation", height=420, elem_id="chatbot")
    box = gr.MultimodalTextbox(placeholder="Upload an image and ask about it", file_types=["image"],
                               file_count="multiple", max_plain_text_length=service.limits.max_prompt_chars,
                               elem_id="chat-input")
    images = gr.State([])  # decoded images of this conversation; the model answers about all of them
    clear = gr.Button("New conversation")

    def add_user(message, history, held):
        files, text = message.get("files", []), (message.get("text") or "").strip()
        try:
            new = [_read_upload(f if isinstance(f, str) else f["path"], service) for f in files]
            if len(held) + len(new) > service.limits.max_images_per_edit:
                raise LimitError(f"at most {service.limits.max_images_per_edit} images per conversation")
        except InputError as e:
            raise gr.Error(str(e)) from e
        history = list(history or [])
        for f in files:
            history.append({"role": "user", "content": {"path": f if isinstance(f, str) else f["path"]}})
        if text:
            history.append({"role": "user", "content": text})
        return history, held + new, gr.MultimodalTextbox(value=None)

    def answer(history, held):
        turns = _text_turns(history)
        if not turns or turns[-1]["role"] != "user":
            return history  # nothing new to answer (an image alone, no question yet)
        pieces: stdqueue.Queue = stdqueue.Queue()
        try:
            job = service.submit(service.chat_job(held, turns[-1]["content"], sink=pieces.put, history=turns[:-1]))
        except USER_ERRORS as e:
            raise gr.Error(str(e)) from e
        history = history + [{"role": "assistant", "content": ""}]
        try:
            while True:
                try:
                    piece = pieces.get(timeout=0.1)
                except stdqueue.Empty:
                    if job.future.done() or job.expired():
                        break
                    continue
                if piece is None:
                    break
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + piece}
                yield history
            job.future.result(timeout=10)  # surfaces the worker's error, if any
        except USER_ERRORS as e:
            raise gr.Error(str(e)) from e
        finally:
            job.cancel()  # the page went away mid-answer: stop generating
        if not history[-1]["content"].strip():
            history[-1] = {"role": "assistant", "content": EMPTY_ANSWER}
        yield history

    box.submit(add_user, [box, chatbot, images], [chatbot, images, box]).then(answer, [chatbot, images], chatbot)
    clear.click(lambda: ([], [], None), None, [chatbot, images, box])


def build_ui(service: Service) -> gr.Blocks:
    with gr.Blocks(title="uniimage", analytics_enabled=False) as demo:
        gr.Markdown(f"## uniimage: `{service.model_id}`: generate, edit and understand images")
        running = Running()
        with gr.Tab("Generate", id="generate"):
            _generate_tab(service, running)
        with gr.Tab("Edit", id="edit"):
            _edit_tab(service, running)
        with gr.Tab("Understand", id="understand"):
            _understand_tab(service)
    # Gradio's own queue feeds ours; allow a few in flight so UI requests can share a batch.
    demo.queue(max_size=service.queue.max_queue, default_concurrency_limit=service.queue.max_batch)
    return demo


def theme():
    """System fonts only: the default theme pulls web fonts from the internet, which a server here must not."""
    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])
