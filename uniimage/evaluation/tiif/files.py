"""Reading a TIIF-Bench data folder (the official repository's `data/`, a copy the user points us at).

Prompt folders (`test_prompts/`, `testmini_prompts/`) hold one JSONL a dimension, each line
`{"type", "short_description", "long_description"}`; question folders (`test_eval_prompts/`, ...) hold
`{"type", "yn_question_list", "yn_answer_list"}` a line, line i judging the images of prompt line i.
A file's dimension is its lines' `type` (the file name is not trusted: the official judge reads `type` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..prompt_files import jsonl_rows

# Dimension names become folder names in the official layout: one safe path component.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.\-]*$")
LENGTHS = ("short", "long")  # the official layout's folders are f"{length}_description"


@dataclass(frozen=True)
class PromptFile:
    dimension: str
    path: Path
    short: tuple[str, ...]
    long: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.short)

    def prompts(self, length: str) -> tuple[str, ...]:
        return self.short if length == "short" else self.long


@dataclass(frozen=True)
class QuestionFile:
    dimension: str
    path: Path
    questions: tuple[tuple[str, ...], ...]  # line i -> its yes/no questions
    expected: tuple[tuple[str, ...], ...]  # line i -> "yes" / "no" for each question (lower-cased)

    def __len__(self) -> int:
        return len(self.questions)


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise InputError(f"{what} {name!r} cannot be used as a folder name (letters, digits, '_', '+', '-', '.')")
    return name


def _rows(path: Path) -> list[tuple[int, dict]]:
    rows = jsonl_rows(path)  # the prompt-file reader's: each bad line named
    if not rows:
        raise InputError(f"{path}: no lines")
    return rows


def _dimension(path: Path, rows: list[tuple[int, dict]]) -> str:
    first = rows[0][1].get("type")
    for n, row in rows:
        if row.get("type") != first:
            raise InputError(f"{path}:{n}: 'type' is {row.get('type')!r}, but the file's first line says {first!r}")
    return check_name(first, f"{path}: 'type'")


def _jsonl_files(folder: Path, what: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{what} folder not found: {folder}")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise InputError(f"{folder}: no .jsonl files (expected the official {what} folder)")
    return files


def _by_dimension(items: list, folder: Path) -> dict:
    out = {}
    for item in items:
        if item.dimension in out:
            raise InputError(f"{folder}: dimension {item.dimension!r} in two files: {out[item.dimension].path.name} "
                             f"and {item.path.name}")
        out[item.dimension] = item
    return out


def _string(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing a non-empty string {key!r}")
    return value


def load_prompt_dir(folder: str | Path) -> dict[str, PromptFile]:
    """dimension -> its prompts, in line order (line index = image index)."""
    files = []
    for path in _jsonl_files(Path(folder), "prompt"):
        rows = _rows(path)
        short = tuple(_string(row, "short_description", f"{path}:{n}") for n, row in rows)
        long = tuple(_string(row, "long_description", f"{path}:{n}") for n, row in rows)
        files.append(PromptFile(_dimension(path, rows), path, short, long))
    return _by_dimension(files, Path(folder))


def _question_line(row: dict, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    questions, answers = row.get("yn_question_list"), row.get("yn_answer_list")
    if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip() for q in questions):
        raise InputError(f"{where}: 'yn_question_list' must be a non-empty list of strings")
    if not isinstance(answers, list) or len(answers) != len(questions):
        n = len(answers) if isinstance(answers, list) else "no"
        raise InputError(f"{where}: {len(questions)} questions but {n} answers in 'yn_answer_list'")
    expected = []
    for a in answers:
        a = a.strip().lower() if isinstance(a, str) else a
        if a not in ("yes", "no"):
            raise InputError(f"{where}: expected answers must be 'yes' or 'no', got {a!r}")
        expected.append(a)
    return tuple(q.strip() for q in questions), tuple(expected)


def load_question_dir(folder: str | Path) -> dict[str, QuestionFile]:
    """dimension -> its yes/no questions and expected answers, in line order."""
    files = []
    for path in _jsonl_files(Path(folder), "question"):
        rows = _rows(path)
        lines = [_question_line(row, f"{path}:{n}") for n, row in rows]
        files.append(QuestionFile(_dimension(path, rows), path, tuple(q for q, _ in lines), tuple(a for _, a in lines)))
    return _by_dimension(files, Path(folder))


def check_matching(counts: dict[str, int], questions: dict[str, QuestionFile], source: str) -> None:
    """`counts`: prompts per dimension the images were made from (`source` says where that came from).
    Line i of a question file judges prompt line i, so a dimension's files must have the same length;
    a mismatch is almost always test/testmini folders mixed up, and would score images on wrong questions."""
    missing = sorted(set(counts) - set(questions))
    if missing:
        raise InputError(f"no question file for dimension(s) {', '.join(missing)} ({source}); "
                         f"is --eval-prompts the question folder that goes with the prompts?")
    wrong = [f"{d}: {counts[d]} prompts vs {len(questions[d])} question lines ({questions[d].path.name})"
             for d in sorted(counts) if counts[d] != len(questions[d])]
    if wrong:
        raise InputError(f"prompt and question files do not match ({source}): {'; '.join(wrong)}. Line i of a question "
                         "file judges prompt line i: use the question folder of the same split (test or testmini)")
