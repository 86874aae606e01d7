"""Shared fixtures: one tiny pipeline per session and apps built around it (helpers: serving_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pipe():
    from uniimage import UniImagePipeline

    return UniImagePipeline.from_pretrained("tiny")


@pytest.fixture
def make_app(pipe):
    """Build apps around the shared pipeline; their worker threads are closed after the test."""
    from uniimage.serving import create_app

    apps = []

    def build(**kwargs):
        kwargs.setdefault("ui", False)
        app = create_app(pipe, **kwargs)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.service.close()


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c
