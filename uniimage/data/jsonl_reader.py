"""A JSONL manifest: one {"image": "a.png", "caption": "...", "source_images": ["b.png"]} a line,
image paths relative to the manifest's folder."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from .fields import Record, record_from_row
from .stream import IndexedStream


class JsonlReader(IndexedStream):
    def __init__(self, path, image_size: int, **kw):
        super().__init__(path, image_size, **kw)
        p = Path(path)
        if not p.is_file():
            raise DataError(f"JSONL manifest not found: {path}")
        self.base_dir = p.parent
        # Keep raw lines (small) and parse on use: a bad line is one skipped record, not a dead data set.
        self.lines = [(n, line) for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
        if not self.lines:
            raise DataError(f"JSONL manifest is empty: {path}")

    def __len__(self) -> int:
        return len(self.lines)

    def record(self, index: int) -> Record:
        lineno, line = self.lines[index]
        try:
            row = json.loads(line)
        except ValueError as e:
            return Record(key=f"line {lineno}", target=None, caption=None, problem=f"bad JSON on line {lineno}: {e}")
        if not isinstance(row, dict):
            return Record(key=f"line {lineno}", target=None, caption=None, problem=f"line {lineno} is not a JSON object")
        return record_from_row(row, key=str(row.get("key") or row.get("id") or f"line {lineno}"), base_dir=self.base_dir)
