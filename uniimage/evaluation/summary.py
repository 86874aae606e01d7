"""`DIR/summary.json`: what was sampled, with which settings and model, how much is done, how long it took.

Shards share one folder, so each run merges its entry under `runs[<shard>]` while holding a file lock,
and the top-level counts are recounted from disk (they describe the folder, not one process)."""

from __future__ import annotations

import json
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import torch

SUMMARY_NAME = "summary.json"


@contextmanager
def _locked(path: Path):
    """Open read/write with an exclusive lock (POSIX); elsewhere shards may race, which only costs an entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:
            pass
        yield f


def _read(f) -> dict:
    f.seek(0)
    text = f.read()
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        data = {}  # a torn file from a killed run: rebuild it
    return data if isinstance(data, dict) else {}


def run_entry(result, settings, shard, timings: dict, device: str, dtype: str) -> dict:
    per_image = result.seconds / result.images if result.images else None
    return {
        "shard": str(shard),
        "settings": settings.as_dict(),
        "counts": result.as_dict(),
        "timings": {**timings, "sampling_s": round(result.seconds, 3), "per_image_s": per_image},
        "device": device,
        "dtype": dtype,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def update_summary(out_dir: Path, header: dict, entry: dict, complete: int, selected: int,
                   name: str = SUMMARY_NAME) -> dict:
    """Merge this run's entry; `header` holds benchmark, model and the settings of the latest run."""
    with _locked(Path(out_dir) / name) as f:
        data = _read(f)
        runs = data.get("runs", {})
        runs[entry["shard"]] = entry
        data.update(header)
        data["runs"] = runs
        data["counts"] = {"prompts_selected": selected, "prompts_complete": complete}
        data["sampling_s_total"] = round(sum(r["timings"]["sampling_s"] for r in runs.values()), 3)
        f.seek(0)
        f.truncate()
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
    return data
