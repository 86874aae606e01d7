"""Small TIIF-Bench folders in the official format, made up for the tests (the official data is not ours)."""

from __future__ import annotations

import json
from pathlib import Path

# dimension -> lines of (short, long, [(question, expected)...]); the names are official dimension names.
DATA = {
    "2d_spatial_relation": [
        ("A red ball left of a box.", "A glossy red ball rests just to the left of a plain cardboard box.",
         [("Is there a red ball?", "yes"), ("Is there a box?", "yes"), ("Is the ball left of the box?", "yes")]),
        ("A lamp above a table.", "A brass lamp hangs directly above a long wooden table.",
         [("Is there a lamp?", "yes"), ("Is the lamp above the table?", "yes")]),
        ("A dog under a chair.", "A small grey dog naps in the shade beneath a kitchen chair.",
         [("Is there a dog?", "yes"), ("Is the dog under the chair?", "yes")]),
    ],
    "negation": [
        ("A bowl with no apples.", "An empty ceramic bowl on a counter, without a single apple in it.",
         [("Is there a bowl?", "yes"), ("Are there apples in the bowl?", "no")]),
        ("A sky without clouds.", "A wide summer sky, perfectly clear, with no cloud anywhere.",
         [("Is the sky visible?", "yes"), ("Are there clouds? Answer with yes or no.", "no")]),
    ],
    "style": [
        ("A fox, in watercolour.", "A fox in a meadow, painted in soft watercolour washes.",
         [("Is the image in watercolour style?", "Yes")]),
    ],
    "text": [
        ("A sign that says 'open'.", "A wooden shop sign with the word 'open' painted on it.",
         [("Is the text 'open' in the image?", "Yes")]),
    ],
}


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_tiif_data(root: Path, split: str = "test", data: dict = DATA) -> tuple[Path, Path]:
    """-> (prompts folder, questions folder), named and shaped like the official `data/` subfolders."""
    prompts, questions = root / f"{split}_prompts", root / f"{split}_eval_prompts"
    for dim, lines in data.items():
        _write(prompts / f"{dim}_prompts.jsonl",
               [{"type": dim, "short_description": s, "long_description": lg} for s, lg, _ in lines])
        _write(questions / f"{dim}_eval_prompts.jsonl",
               [{"type": dim, "yn_question_list": [q for q, _ in qa], "yn_answer_list": [a for _, a in qa]}
                for _, _, qa in lines])
    return prompts, questions
