"""The ASGI app: FastAPI routes beside the mounted Gradio page, one Service (model + queue) behind both."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from . import api, httperrors
from .auth import check_bind, gradio_auth
from .bodylimit import BodyLimit
from .limits import Limits, sizes_for
from .service import Service

log = logging.getLogger("uniimage.serving")

UI_PATH = "/ui"


def size_multiple(pipe) -> int:
    """Pixel sizes must divide into whole latent patches: VAE downsampling times transformer patch."""
    try:
        return int(pipe.model.config.vae_downsample_f) * int(pipe.model.transformer.config.patch_size)
    except (AttributeError, TypeError, ValueError):
        return 32


def default_limits(pipe) -> Limits:
    return Limits(sizes=sizes_for(int(pipe.default_height), int(pipe.default_width), size_multiple(pipe)))


def create_app(
    pipe,
    *,
    api_key: Optional[str] = None,
    max_queue: int = 16,
    max_batch: int = 4,
    timeout_s: float = 300.0,
    limits: Optional[Limits] = None,
    ui: bool = True,
    image_url_hosts: tuple[str, ...] = (),
) -> FastAPI:
    limits = limits or default_limits(pipe)
    service = Service(pipe, limits, max_queue=max_queue, max_batch=max_batch, timeout_s=timeout_s,
                      image_url_hosts=image_url_hosts)

    @asynccontextmanager
    async def lifespan(app):
        yield
        service.close()

    app = FastAPI(
        title="uniimage",
        description="Generate, edit and understand images with one model. OpenAI-shaped endpoints under /v1.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.api_key = api_key or None
    httperrors.install(app)
    app.include_router(api.router)
    app.include_router(api.health_router)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse(UI_PATH + "/" if ui else "/docs")

    if ui:
        app = _mount_ui(app, service, api_key)
    return app


def _mount_ui(app: FastAPI, service: Service, api_key: Optional[str]) -> FastAPI:
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a server here phones no one
    import gradio as gr  # only the UI needs it; API-only tests import less

    from .ui import build_ui, theme

    return gr.mount_gradio_app(
        app,
        build_ui(service),
        path=UI_PATH,
        auth=gradio_auth(api_key) if api_key else None,
        auth_message="Log in with any user name and the server's API key as password." if api_key else None,
        max_file_size=service.limits.max_upload_bytes,
        ssr_mode=False,
        theme=theme(),
        footer_links=["api"],
    )


def load_pipeline(model: str, device: str = "cpu", compile_mode: Optional[str] = None, fp8: bool = False):
    """The served pipeline: loaded, on `device`, compiled when asked (batch sizes bucketed, so the queue's
    batches of 1..max_batch requests meet a few compiled shapes; the first call at each bucket compiles)."""
    from .. import UniImagePipeline
    from ..utils.devices import move_to

    log.info("loading %s", model)
    pipe = UniImagePipeline.from_pretrained(model)
    move_to(pipe, device)
    if compile_mode or fp8:
        pipe.compile(mode=compile_mode or "default", fp8=fp8)
    return pipe


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    api_key: Optional[str] = None,
    max_queue: int = 16,
    max_batch: int = 4,
    timeout_s: float = 300.0,
    ui: bool = True,
    image_url_hosts: tuple[str, ...] = (),
    device: str = "cpu",
    compile_mode: Optional[str] = None,
    fp8: bool = False,
) -> None:
    check_bind(host, api_key)  # refuse before spending minutes loading a model
    import uvicorn

    pipe = load_pipeline(model, device, compile_mode, fp8)
    app = create_app(pipe, api_key=api_key, max_queue=max_queue, max_batch=max_batch, timeout_s=timeout_s, ui=ui,
                     image_url_hosts=image_url_hosts)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
