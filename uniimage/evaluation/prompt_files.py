"""User-given task lists: a prompt file (txt or jsonl) or an editing set (jsonl with input images)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .tasks import Task, check_key


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"prompt file not found: {path}")
    return path.read_text(encoding="utf-8")


def jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line is named in the error."""
    rows = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from e
        if not isinstance(row, dict):
            raise InputError(f"{path}:{n}: expected a JSON object")
        rows.append((n, row))
    return rows


def _check_unique(tasks: list[Task], path: Path) -> list[Task]:
    seen: set[str] = set()
    for t in tasks:
        if t.key in seen:
            raise InputError(f"{path}: id {t.key!r} appears twice (outputs would overwrite each other)")
        seen.add(t.key)
    if not tasks:
        raise InputError(f"{path}: no prompts found")
    return tasks


def load_prompt_file(path: str | Path) -> list[Task]:
    """`.jsonl`: objects with `prompt` (and optional `id`); anything else: one prompt a non-blank line.
    Without an id the key is the 5-digit prompt index."""
    path = Path(path)
    tasks = []
    if path.suffix.lower() == ".jsonl":
        for i, (n, row) in enumerate(jsonl_rows(path)):
            if not isinstance(row.get("prompt"), str):
                raise InputError(f"{path}:{n}: missing a string 'prompt'")
            key = check_key(str(row["id"]), f"{path}:{n}") if "id" in row else f"{i:05d}"
            tasks.append(Task(index=i, key=key, prompt=row["prompt"]))
    else:
        prompts = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
        tasks = [Task(index=i, key=f"{i:05d}", prompt=p) for i, p in enumerate(prompts)]
    return _check_unique(tasks, path)


def _image_paths(value, base: Path, where: str) -> tuple[Path, ...]:
    """`image` is a path or a list of paths, relative to the JSONL's folder; all must exist."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(v, str) for v in names):
        raise InputError(f"{where}: 'image' must be a path or a non-empty list of paths")
    paths = tuple(base / name for name in names)
    for p in paths:
        if not p.is_file():
            raise InputError(f"{where}: input image not found: {p}")
    return paths


def _edit_jsonl(path: Path) -> Path:
    """A folder stands for the one JSONL inside it (an exported set: the JSONL beside its images)."""
    if not path.is_dir():
        return path
    found = sorted(path.glob("*.jsonl"))
    if len(found) != 1:
        raise InputError(f"{path}: expected exactly one .jsonl in the folder, found {len(found)}; pass the file")
    return found[0]


def load_edit_file(path: str | Path) -> list[Task]:
    """Editing set: `{"id", "image": path | [paths], "instruction"}` a line (ImgEdit / GEdit exported so)."""
    path = _edit_jsonl(Path(path))
    tasks = []
    for i, (n, row) in enumerate(jsonl_rows(path)):
        where = f"{path}:{n}"
        if "id" not in row:
            raise InputError(f"{where}: missing 'id'")
        instruction = row.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise InputError(f"{where}: missing a string 'instruction'")
        images = _image_paths(row.get("image"), path.parent, where)
        tasks.append(Task(index=i, key=check_key(str(row["id"]), where), prompt=instruction, images=images))
    return _check_unique(tasks, path)
