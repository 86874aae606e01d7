"""Serving: one process, one model, a Gradio page and an OpenAI-shaped HTTP API on the same port."""

from .app import create_app, serve
from .limits import Limits

__all__ = ["Limits", "create_app", "serve"]
