"""Fixtures of the data tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from uniimage_data_helpers import write_image_folder


@pytest.fixture
def jsonl_dataset(tmp_path) -> Path:
    """4 good t2i + 2 good edit rows, then corrupt, truncated, missing, a bad JSON line, a row without caption."""
    root = tmp_path / "jsonl"
    write_image_folder(root)
    rows = [{"image": f"good{i}.png", "caption": f"cap {i}", "key": f"t{i}"} for i in range(4)]
    rows += [
        {"target_image": "good0.png", "instruction": "make it red", "source_images": ["src.png"], "key": "e0"},
        {"image": "good1.png", "prompt": "edit two", "source_image": "src.png", "key": "e1"},
        {"image": "corrupt.png", "caption": "bad", "key": "corrupt"},
        {"image": "truncated.png", "caption": "bad", "key": "truncated"},
        {"image": "nope.png", "caption": "bad", "key": "missing"},
        {"image": "good2.png", "key": "nocaption"},
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, "{not json")
    path = root / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path

