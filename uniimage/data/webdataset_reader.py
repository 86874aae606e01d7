"""webdataset tar shards (stage 1: `jpg` + `txt`): streamed, shard order and buffer shuffle seeded per epoch."""

from __future__ import annotations

import glob
import itertools
import json
import logging
from pathlib import Path
from typing import Iterator


from ..errors import DataError
from .fields import CAPTION_KEYS, Record, caption_of, first_present
from .stream import SampleStream, rng_for

log = logging.getLogger(__name__)

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")


def list_shards(path) -> list[str]:
    """Shards from a directory (every *.tar), a glob, brace notation ("data-{000..099}.tar") or one file."""
    import webdataset as wds  # optional ([train] extra): imported only when shards are read

    text = str(path)
    if Path(text).is_dir():
        shards = sorted(str(p) for p in Path(text).glob("*.tar"))
    elif any(c in text for c in "*?["):
        shards = sorted(glob.glob(text))
    else:
        shards = wds.shardlists.expand_urls(text)  # brace notation, "::"-joined lists
    if not shards:
        raise DataError(f"no webdataset shards (*.tar) found at {text}")
    missing = [s for s in shards if not Path(s).is_file()]
    if missing:
        raise DataError(f"webdataset shard not found: {missing[0]} ({len(missing)} of {len(shards)} missing, from {text})")
    return shards


def caption_from_tar(raw: dict) -> str | None:
    if "txt" in raw:
        return caption_of(raw["txt"].decode("utf-8", errors="replace"))
    if "json" in raw:
        try:
            meta = json.loads(raw["json"])
        except (ValueError, UnicodeDecodeError):
            return None
        return caption_of(first_present(meta, CAPTION_KEYS)) if isinstance(meta, dict) else None
    return None


def record_from_tar(raw: dict) -> Record:
    key = f"{Path(raw.get('__url__', '')).name}/{raw['__key__']}"
    image_key = next((k for k in IMAGE_EXTS if k in raw), None)
    caption = caption_from_tar(raw)
    problem = None
    if image_key is None:
        problem = f"no image member (one of {IMAGE_EXTS})"
    elif caption is None:
        problem = "no caption (txt, or json with caption/prompt/text)"
    return Record(key=key, target=raw.get(image_key) if image_key else None, caption=caption, problem=problem)


class WebDatasetReader(SampleStream):
    def __init__(self, path, image_size: int, shuffle_buffer: int = 1000, **kw):
        super().__init__(path, image_size, **kw)
        self.shards = list_shards(path)
        self.shuffle_buffer = int(shuffle_buffer)

    def _shard_error(self, exn: Exception) -> bool:
        # A truncated or unreadable shard loses its remaining records: count it, log it, go on.
        self.stats.shard_errors += 1
        log.warning("%s: shard read error, skipping the rest of it: %s", self.path, exn)
        return True

    def shards_for(self, epoch: int, slot: int, num_slots: int) -> list[str]:
        shards = list(self.shards)
        if self.shuffle:
            rng_for(self.seed, "shards", epoch).shuffle(shards)  # identical on every rank: disjoint slices
        return shards[slot::num_slots]

    def records(self, epoch: int, slot: int, num_slots: int, start: int = 0) -> Iterator[Record]:
        import webdataset as wds

        urls = [{"url": s} for s in self.shards_for(epoch, slot, num_slots)]
        raw = iter(wds.tarfile_samples(urls, handler=self._shard_error))
        if self.shuffle and self.shuffle_buffer > 1:
            rng = rng_for(self.seed, "buffer", epoch, slot)
            raw = wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng)(raw)
        # Resuming replays the byte stream through the same seeded buffer, skipping without decoding.
        for sample in itertools.islice(raw, start, None):
            yield self.to_record(sample)

    def to_record(self, raw: dict) -> Record:
        return record_from_tar(raw)
