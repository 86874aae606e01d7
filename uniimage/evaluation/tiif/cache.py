"""The judge's answers, one JSON line each, appended as they arrive: a rerun asks only what is missing.

An entry is reused only for the same question about the same image bytes (sha256) from the same judge
model, so resampled images or a different judge are asked again. A torn last line (a killed run) is
skipped on reading; a later line for the same slot wins.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

Slot = tuple[str, str, int, int]  # dimension, length, image index, question index


class AnswerCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.entries: dict[Slot, dict] = {}
        if self.path.is_file():
            text = self.path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write("\n")  # end a torn line, so the next entry starts on its own line
            for line in text.splitlines():
                try:
                    e = json.loads(line)
                    slot = (e["dimension"], e["length"], int(e["index"]), int(e["q"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
                if not isinstance(e.get("raw"), str):
                    continue
                self.entries[slot] = e

    def get(self, slot: Slot, question: str, image_sha256: str, judge_model: str) -> dict | None:
        e = self.entries.get(slot)
        if e is None or e.get("question") != question or e.get("image_sha256") != image_sha256:
            return None
        return e if e.get("judge_model") == judge_model else None

    def put(self, slot: Slot, entry: dict) -> None:
        entry = {"dimension": slot[0], "length": slot[1], "index": slot[2], "q": slot[3], **entry}
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
            self.entries[slot] = entry
