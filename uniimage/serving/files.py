"""Images served back by URL (`response_format: "url"`): held in memory, bounded in count and bytes, expiring.

Names are random (128 bits), so a URL cannot be guessed; the route that serves them sits behind the API key.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Optional


class FileStore:
    def __init__(self, max_files: int = 256, max_bytes: int = 256 * 1024 * 1024, ttl_s: float = 3600.0):
        self.max_files, self.max_bytes, self.ttl_s = max_files, max_bytes, ttl_s
        self._files: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()  # name -> (expires, mime, data)
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, data: bytes, ext: str, mime: str) -> str:
        name = f"{secrets.token_urlsafe(16)}.{ext}"
        with self._lock:
            self._expire()
            self._files[name] = (time.monotonic() + self.ttl_s, mime, data)
            self._bytes += len(data)
            while self._files and (len(self._files) > self.max_files or self._bytes > self.max_bytes):
                self._drop(next(iter(self._files)))  # oldest first
        return name

    def get(self, name: str) -> Optional[tuple[str, bytes]]:
        with self._lock:
            self._expire()
            entry = self._files.get(name)
            return None if entry is None else (entry[1], entry[2])

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._files)

    def _drop(self, name: str) -> None:
        _, _, data = self._files.pop(name)
        self._bytes -= len(data)

    def _expire(self) -> None:
        now = time.monotonic()
        for name in [n for n, (expires, _, _) in self._files.items() if expires <= now]:
            self._drop(name)
