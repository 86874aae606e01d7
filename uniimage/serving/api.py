"""HTTP routes: OpenAI's Images (generations, edits, streamed previews, URLs) and Chat endpoints, models,
status, health. Field by field, what each does: docs/serving.md."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from . import chat
from . import openai_images as oi
from .auth import bearer_token, key_matches
from .encode import MIME, b64, decode_upload, encode_image
from .limits import LimitError, check_image_count
from .queue import Job, JobTimeout
from .schemas import ChatRequest, EditRequest, GenerationRequest
from .service import Service


def service_of(request: Request) -> Service:
    return request.app.state.service


def require_key(request: Request) -> None:
    expected = request.app.state.api_key
    if not expected:
        return
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer KEY'", {"WWW-Authenticate": "Bearer"})
    if not key_matches(token, expected):
        raise HTTPException(401, "invalid API key", {"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])
health_router = APIRouter()


# ---- images ------------------------------------------------------------------------------------------
def _image_job(service: Service, body, opts: oi.ImageOptions, images=None, on_partial=None) -> Job:
    return service.image_job(
        body.prompt, n=body.n, size=body.size, negative_prompt=body.negative_prompt, seed=body.seed,
        steps=opts.steps, guidance_scale=body.guidance_scale, guidance_interval=body.guidance_interval, images=images,
        image_guidance_scale=getattr(body, "image_guidance_scale", None),
        partial_images=opts.partial_images, on_partial=on_partial,
    )


def _size(job: Job) -> str:
    return f"{job.payload.width}x{job.payload.height}"


async def _images(service: Service, request: Request, body, opts: oi.ImageOptions, images, kind: str):
    if opts.stream:
        return await _image_stream(service, request, body, opts, images, kind)
    job = _image_job(service, body, opts, images)
    used = await run_in_threadpool(oi.usage, service.pipe, body.prompt, images, body.n, job.payload.height, job.payload.width)
    service.submit(job)
    results = await service.wait(job, request.is_disconnected)
    blobs = await run_in_threadpool(lambda: [encode_image(im, opts.output_format, opts.compression) for im in results])
    seed = job.payload.seed
    items = []
    for i, blob in enumerate(blobs):
        if opts.response_format == "url":
            name = service.files.put(blob, opts.output_format, MIME[opts.output_format])
            items.append({"url": f"{request.base_url}v1/images/files/{name}", "seed": seed, "index": i})
        else:
            items.append({"b64_json": b64(blob), "seed": seed, "index": i})
    return oi.response(service.model_id, seed, items, opts, _size(job), used)


async def _image_stream(service: Service, request: Request, body, opts: oi.ImageOptions, images, kind: str):
    """Server-sent events as OpenAI sends them: `<kind>.partial_image` previews, then one `<kind>.completed`
    per image with the request's usage. Closing the stream cancels the job, queued or running."""
    loop = asyncio.get_running_loop()
    previews: asyncio.Queue = asyncio.Queue()
    on_partial = lambda i, k, img: loop.call_soon_threadsafe(previews.put_nowait, (i, k, img))  # noqa: E731
    job = _image_job(service, body, opts, images, on_partial if opts.partial_images else None)
    used = await run_in_threadpool(oi.usage, service.pipe, body.prompt, images, body.n, job.payload.height, job.payload.width)
    service.submit(job)  # 429 before any byte is sent
    echo = opts.echo(_size(job))
    encode = lambda im: b64(encode_image(im, opts.output_format, opts.compression))  # noqa: E731

    async def events():
        try:
            while True:
                try:
                    i, k, img = await asyncio.wait_for(previews.get(), timeout=0.25)
                except asyncio.TimeoutError:
                    if job.future.done() and previews.empty():
                        break
                    if job.expired():
                        job.cancel()
                        yield oi.error_event(str(JobTimeout("the request timed out")), "timeout")
                        return
                    continue
                data = await run_in_threadpool(encode, img)
                yield oi.event(f"{kind}.partial_image", b64_json=data, partial_image_index=k, index=i, **echo)
            if job.future.cancelled():
                return
            error = job.future.exception()
            if error is not None:
                yield oi.error_event(str(error) or type(error).__name__, "server_error")
                return
            for i, img in enumerate(job.future.result()):
                data = await run_in_threadpool(encode, img)
                yield oi.event(f"{kind}.completed", b64_json=data, index=i, seed=job.payload.seed, usage=used, **echo)
        finally:
            job.cancel()  # no-op once finished; frees the slot and stops the worker if the client left

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/images/generations", summary="Text to image (OpenAI Images: b64_json or url, stream with partial images)")
async def generations(body: GenerationRequest, request: Request):
    service = service_of(request)
    opts = oi.image_options(body, service.limits)
    return await _images(service, request, body, opts, None, "image_generation")


# Form fields are text: these are converted before the same checks the JSON endpoint runs.
_INT_FIELDS = {"n", "output_compression", "partial_images", "seed", "steps", "frame_count", "frame_duration_ms"}
_FLOAT_FIELDS = {"guidance_scale", "image_guidance_scale"}
_BOOL_FIELDS = {"stream"}
_PAIR_FIELDS = {"guidance_interval"}  # "lo,hi" (or "[lo, hi]")
_IMAGE_FIELDS = ("image", "image[]")


def _form_value(key: str, value: str):
    try:
        if key in _INT_FIELDS:
            return int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
    except ValueError:
        kind = "an integer" if key in _INT_FIELDS else "a number"
        raise LimitError(f"'{key}' must be {kind}, got {value[:40]!r}", param=key) from None
    if key in _PAIR_FIELDS:
        try:
            return [float(v) for v in value.strip().strip("[]").split(",")]
        except ValueError:
            raise LimitError(f"'{key}' must be two numbers 'lo,hi', got {value[:40]!r}", param=key) from None
    if key in _BOOL_FIELDS:
        if value.lower() not in ("true", "false", "1", "0"):
            raise LimitError(f"'{key}' must be true or false, got {value[:40]!r}", param=key)
        return value.lower() in ("true", "1")
    return value


async def _edit_form(request: Request, service: Service):
    form = await request.form()
    parts, fields = [], {}
    for key, value in form.multi_items():
        if key in ("mask", "markup"):
            raise LimitError(f"'{key}' is not supported: this model edits whole images by instruction "
                             "(send only 'image' parts and the prompt)", param=key)
        if key in _IMAGE_FIELDS:
            if not isinstance(value, UploadFile):
                raise LimitError(f"'{key}' must be a file part (an UploadFile), not text", param="image")
            parts.append(value)
        elif isinstance(value, UploadFile):
            raise LimitError(f"unexpected file part {key!r}: only 'image' parts carry files", param=key)
        else:
            fields[key] = _form_value(key, value)
    try:
        body = EditRequest.model_validate(fields)
    except ValidationError as e:
        raise RequestValidationError(e.errors()) from e
    opts = oi.image_options(body, service.limits, edit=True)
    return body, opts, await _read_images(parts, service)


async def _read_images(parts: list[UploadFile], service: Service):
    check_image_count(len(parts), service.limits)
    cap = service.limits.max_upload_bytes
    blobs = []
    for i, part in enumerate(parts):
        data = await part.read(cap + 1)  # one byte past the cap is enough to know it is over
        blobs.append((f"image part {i + 1} ({part.filename or 'unnamed'})", data))
    return await run_in_threadpool(lambda: [decode_upload(d, service.limits, what) for what, d in blobs])


@router.post("/images/edits", summary="Edit images by instruction (multipart: 'image' parts, OpenAI Images fields)")
async def edits(request: Request):
    service = service_of(request)
    body, opts, images = await _edit_form(request, service)
    return await _images(service, request, body, opts, images, "image_edit")


@router.get("/images/files/{name}", summary="An image handed out by URL (expires after an hour)")
async def image_file(name: str, request: Request):
    found = service_of(request).files.get(name)
    if found is None:
        raise HTTPException(404, f"no image {name!r}: unknown or expired (URLs last {service_of(request).files.ttl_s:g} s)")
    mime, data = found
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})


# ---- chat --------------------------------------------------------------------------------------------
@router.post("/chat/completions", summary="Answer questions about images (OpenAI chat shape)")
async def chat_completions(body: ChatRequest, request: Request):
    service = service_of(request)
    chat.check_unsupported(body)
    images, question, history = await run_in_threadpool(chat.extract, body.messages, service.limits, service.image_url_hosts)
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    options = dict(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, history=history,
                   stop=body.stop, seed=body.seed)
    head = chat.Head(chat.completion_id(), service.model_id, int(time.time()))
    if not body.stream:
        job = service.submit(service.chat_job(images, question, **options))
        answer = await service.wait(job, request.is_disconnected)
        return chat.completion(head, answer)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return _chat_stream(service, images, question, options, head, include_usage)


def _chat_stream(service: Service, images, question, options, head, include_usage: bool) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue = asyncio.Queue()
    sink: Callable = lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)  # noqa: E731 (worker -> loop)
    job = service.submit(service.chat_job(images, question, sink=sink, **options))  # 429 before any byte is sent

    async def events():
        try:
            yield chat.chunk_event(head, {"role": "assistant", "content": ""}, with_usage=include_usage)
            while True:
                try:
                    piece = await asyncio.wait_for(pieces.get(), timeout=0.25)
                except asyncio.TimeoutError:
                    if job.future.done() and pieces.empty():
                        break  # settled without streaming (cancelled or failed before its first piece)
                    if job.expired():
                        job.cancel()
                        yield chat.error_event(str(JobTimeout("the request timed out")), "timeout")
                        return
                    continue
                if piece is None:
                    break
                yield chat.chunk_event(head, {"content": piece}, with_usage=include_usage)
            answer, error = await _outcome(job)
            if error is not None or answer is None:
                yield chat.error_event(str(error or "the answer was cancelled") or type(error).__name__, "server_error")
                return
            yield chat.chunk_event(head, {}, finish=answer.finish_reason, with_usage=include_usage)
            if include_usage:
                yield chat.usage_event(head, answer.usage())
            yield chat.DONE_EVENT
        finally:
            job.cancel()  # no-op once finished; stops the worker if the client left mid-stream

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _outcome(job, grace_s: float = 10.0):
    """The worker signals end-of-stream just before it settles the future: wait for that -> (answer, error)."""
    deadline = time.monotonic() + grace_s
    while not job.future.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if not job.future.done() or job.future.cancelled():
        return None, None
    error = job.future.exception()
    return (None, error) if error is not None else (job.future.result(), None)


# ---- models, status, health --------------------------------------------------------------------------
@router.get("/models", summary="The one model this server runs")
async def models(request: Request):
    service = service_of(request)
    return {
        "object": "list",
        "data": [
            {
                "id": service.model_id,
                "object": "model",
                "created": service.started,
                "owned_by": "uniimage",
                "sizes": list(service.limits.sizes),
            }
        ],
    }


@router.get("/status", summary="Model, queue and limits (behind the key when the server has one)")
async def status(request: Request):
    return service_of(request).status()


@health_router.get("/health", summary="Liveness; on a keyed server only 'ok' (details at /v1/status, behind the key)")
async def health(request: Request):
    # Open to load balancers without a key; a keyed (public) server tells them nothing else. An unkeyed
    # server is loopback-only (check_bind), so its details reach only this machine.
    if request.app.state.api_key:
        return {"status": "ok"}
    return service_of(request).status()
