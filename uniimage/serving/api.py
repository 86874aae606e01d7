"""HTTP routes: OpenAI-shaped images and chat endpoints, models, health."""

from __future__ import annotations

import asyncio
import time
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

from . import chat
from .auth import bearer_token, key_matches
from .encode import decode_upload, png_b64
from .limits import LimitError, check_image_count
from .queue import JobTimeout
from .schemas import ChatRequest, GenerationRequest
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


async def _images_response(service: Service, request: Request, job) -> dict:
    service.submit(job)
    images = await service.wait(job, request.is_disconnected)
    encoded = await run_in_threadpool(lambda: [png_b64(img) for img in images])
    seed = job.payload.seed
    return {
        "created": int(time.time()),
        "model": service.model_id,
        "seed": seed,
        "data": [{"b64_json": b64, "seed": seed, "index": i} for i, b64 in enumerate(encoded)],
    }


@router.post("/images/generations", summary="Text to image (OpenAI Images shape)")
async def generations(body: GenerationRequest, request: Request):
    service = service_of(request)
    job = service.image_job(
        body.prompt,
        n=body.n,
        size=body.size,
        negative_prompt=body.negative_prompt,
        seed=body.seed,
        steps=body.steps,
        guidance_scale=body.guidance_scale,
    )
    return await _images_response(service, request, job)


async def _read_images(parts: list[UploadFile], service: Service):
    check_image_count(len(parts), service.limits)
    cap = service.limits.max_upload_bytes
    blobs = []
    for i, part in enumerate(parts):
        data = await part.read(cap + 1)  # one byte past the cap is enough to know it is over
        blobs.append((f"image part {i + 1} ({part.filename or 'unnamed'})", data))
    return await run_in_threadpool(lambda: [decode_upload(d, service.limits, what) for what, d in blobs])


@router.post("/images/edits", summary="Edit images by instruction (multipart, one or more 'image' parts)")
async def edits(
    request: Request,
    prompt: str = Form(...),
    image: Optional[list[UploadFile]] = File(None, description="1 or more images (PNG, JPEG, WebP...)"),
    image_array: Optional[list[UploadFile]] = File(None, alias="image[]", include_in_schema=False),
    n: int = Form(1),
    size: Optional[str] = Form(None),
    response_format: str = Form("b64_json"),
    negative_prompt: Optional[str] = Form(None),
    seed: Optional[int] = Form(None),
    steps: Optional[int] = Form(None),
    guidance_scale: Optional[float] = Form(None),
    image_guidance_scale: Optional[float] = Form(None),
):
    service = service_of(request)
    if response_format != "b64_json":
        raise LimitError("only response_format 'b64_json' is supported", param="response_format")
    parts = [p for p in (image or []) + (image_array or []) if isinstance(p, StarletteUpload)]
    images = await _read_images(parts, service)
    job = service.image_job(
        prompt,
        n=n,
        size=size,
        negative_prompt=negative_prompt,
        seed=seed,
        steps=steps,
        guidance_scale=guidance_scale,
        images=images,
        image_guidance_scale=image_guidance_scale,
    )
    return await _images_response(service, request, job)


@router.post("/chat/completions", summary="Answer questions about images (OpenAI chat shape, data URIs)")
async def chat_completions(body: ChatRequest, request: Request):
    service = service_of(request)
    images, question, history = await run_in_threadpool(chat.extract, body.messages, service.limits)
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    options = dict(max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, history=history)
    cid = chat.completion_id()
    if not body.stream:
        job = service.submit(service.chat_job(images, question, **options))
        (text,) = [await service.wait(job, request.is_disconnected)]
        return chat.completion(cid, service.model_id, text)
    return _stream(service, images, question, options, cid)


async def _outcome(job, grace_s: float = 10.0) -> Optional[BaseException]:
    """The worker signals end-of-stream just before it settles the future: wait for that, get its error."""
    deadline = time.monotonic() + grace_s
    while not job.future.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if not job.future.done() or job.future.cancelled():
        return None
    return job.future.exception()


def _stream(service: Service, images, question, options, cid) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue = asyncio.Queue()
    sink = lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)  # noqa: E731 (worker thread -> loop)
    job = service.submit(service.chat_job(images, question, sink=sink, **options))  # 429 before any byte is sent

    async def events():
        try:
            yield chat.chunk_event(cid, service.model_id, {"role": "assistant", "content": ""})
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
                yield chat.chunk_event(cid, service.model_id, {"content": piece})
            error = await _outcome(job)
            if error is not None:
                yield chat.error_event(str(error) or type(error).__name__, "server_error")
                return
            yield chat.chunk_event(cid, service.model_id, {}, finish="stop")
            yield chat.DONE_EVENT
        finally:
            job.cancel()  # no-op once finished; stops the worker if the client left mid-stream

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


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


@health_router.get("/health", summary="Liveness: model loaded, queue depth")
async def health(request: Request):
    return service_of(request).health()
