"""Hugging Face data sets saved with `save_to_disk`, or parquet files (stages 2 and 3).

Rows are read as Arrow (`with_format("arrow")`) so images arrive undecoded ({"bytes", "path"}) and go
through `load_image` like every other image; column names: see `fields.py`.
"""

from __future__ import annotations

import glob
from pathlib import Path

from ..errors import DataError
from .fields import CAPTION_KEYS, SOURCE_KEYS, TARGET_KEYS, Record, record_from_row
from .stream import IndexedStream

WANTED = TARGET_KEYS + CAPTION_KEYS + SOURCE_KEYS + ("key", "id")


def load_saved(path: Path, split: str | None):
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise DataError(f"not a dataset saved with save_to_disk: {path} ({e})") from e
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds.keys())
        if split is None:
            split = "train" if "train" in ds else names[0] if len(names) == 1 else None
        if split not in ds:
            raise DataError(f"{path} holds splits {names}: name one with `split`")
        ds = ds[split]
    return ds


def parquet_files(path: Path) -> list[str]:
    text = str(path)
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet"))
    elif any(c in text for c in "*?["):
        files = sorted(glob.glob(text))
    else:
        files = [text] if path.is_file() else []
    if not files:
        raise DataError(f"no parquet files found at {text}")
    return files


def load_parquet(path: Path, cache_dir: str | None):
    import datasets

    return datasets.Dataset.from_parquet(parquet_files(path), cache_dir=cache_dir)


class HFReader(IndexedStream):
    """`kind="hf"`: a `save_to_disk` folder; `kind="parquet"`: a parquet file, folder of them, or glob."""

    def __init__(self, path, image_size: int, kind: str = "hf", split: str | None = None, cache_dir: str | None = None, **kw):
        super().__init__(path, image_size, **kw)
        p = Path(path)
        if not p.exists() and not any(c in str(path) for c in "*?["):
            raise DataError(f"dataset path does not exist: {path}")
        ds = load_saved(p, split) if kind == "hf" else load_parquet(p, cache_dir)
        columns = [c for c in ds.column_names if c in WANTED]
        if not any(c in columns for c in TARGET_KEYS):
            raise DataError(f"{path}: no target image column (one of {TARGET_KEYS}); columns are {ds.column_names}")
        self.table = ds.select_columns(columns).with_format("arrow")
        # Paths stored in the table are relative to the data set (parquet: the folder of the files).
        self.base_dir = p if p.is_dir() else p.parent
        if len(self.table) == 0:
            raise DataError(f"dataset has no rows: {path}")

    def __len__(self) -> int:
        return len(self.table)

    def record(self, index: int) -> Record:
        row = self.table[index].to_pylist()[0]
        key = str(row.get("key") or row.get("id") or index)
        return record_from_row(row, key=key, base_dir=self.base_dir)
