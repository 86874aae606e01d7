"""Shared fixtures: one tiny pipeline for the session (a spy counts its calls), and a CLI runner that
only registers this package's commands, so other commands' modules cannot break these tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach a hub


class CountingPipe:
    """Wraps a pipeline; counts calls and prompts so tests can see what a run actually sampled."""

    def __init__(self, pipe):
        self.pipe, self.calls, self.prompts = pipe, 0, []

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, prompt, **kwargs):
        self.calls += 1
        self.prompts += [prompt] if isinstance(prompt, str) else list(prompt)
        return self.pipe(prompt, **kwargs)


@pytest.fixture(scope="session")
def tiny_pipeline():
    """Loaded once, through the CLI's own loader (preset, device, dtype)."""
    from uniimage.evaluation.runner import load_pipeline

    pipe, dtype = load_pipeline("tiny", "cpu", "auto")
    assert dtype == "float32"
    return pipe


@pytest.fixture
def pipe(tiny_pipeline, monkeypatch):
    """The CLI's model loader returns the session's tiny pipeline behind a fresh call counter."""
    from uniimage.evaluation import runner

    spy = CountingPipe(tiny_pipeline)
    monkeypatch.setattr(runner, "load_pipeline", lambda model, device, dtype: (spy, "float32"))
    return spy


@pytest.fixture
def cli(monkeypatch):
    from uniimage.cli import main as cli_main

    monkeypatch.setattr(cli_main, "COMMANDS", ["eval", "metrics"])
    return cli_main.main
