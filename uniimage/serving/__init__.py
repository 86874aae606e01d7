"""Serving: one process, one model, a Gradio page and an OpenAI-shaped HTTP API on the same port."""

from .limits import Limits


def __getattr__(name):
    # The app pulls in FastAPI and torch: only when asked for, so `uniimage serve` checks its arguments first.
    if name in ("create_app", "serve"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)


__all__ = ["Limits", "create_app", "serve"]
