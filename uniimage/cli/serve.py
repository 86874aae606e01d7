"""`uniimage serve`: the web UI and the HTTP API for one model, on one port."""

from __future__ import annotations

import argparse
import os

from ..errors import InputError
from .generate import add_compile_args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="web UI + OpenAI-shaped HTTP API for one model",
        description="Serve one model: a Gradio page at /ui and an HTTP API under /v1 (OpenAPI at /docs), same port.",
    )
    p.add_argument("--model", required=True, help="preset name (e.g. tiny) or local model folder")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (any but loopback needs --api-key)")
    p.add_argument("--port", type=int, default=7860, help="port")
    # Read from the environment at run time, not as the default: --help would print the key.
    p.add_argument("--api-key", default=None,
                   help="bearer token for the API and password of the UI (unset: $UNIIMAGE_API_KEY, else none)")
    p.add_argument("--max-queue", type=_positive, default=16, help="requests waiting before 429")
    p.add_argument("--max-batch", type=_positive, default=4, help="generation requests per pipeline call (1 = off)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a request may take, queue included")
    p.add_argument("--no-ui", action="store_true", help="API only, no web page")
    p.add_argument("--image-url-host", action="append", default=[], metavar="HOST",
                   help="a host chat image URLs may be fetched from (repeat; default: none, only data URIs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    add_compile_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..serving.auth import check_bind

    args.api_key = args.api_key or os.environ.get("UNIIMAGE_API_KEY") or None
    try:
        check_bind(args.host, args.api_key)
    except ValueError as e:
        raise InputError(str(e)) from e
    from .checks import compile_flags, model_ref

    model_ref(args.model)
    compile_flags(args)
    from ..serving.app import serve  # FastAPI, Gradio, torch: only once the arguments are known to be good
    serve(
        args.model,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        max_queue=args.max_queue,
        max_batch=args.max_batch,
        timeout_s=args.timeout,
        ui=not args.no_ui,
        image_url_hosts=tuple(args.image_url_host),
        device=args.device,
        compile_mode=args.compile,
        fp8=args.fp8,
    )
    return 0
