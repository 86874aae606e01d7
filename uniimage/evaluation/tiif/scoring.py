"""TIIF-Bench scores from judged answers.

- An image: the share of its questions answered as expected (an unparsed answer is never as expected).
- A dimension, per prompt length: `score` pools its questions (correct / asked over all its images), which
  is what the official summary step computes and what published numbers are; `image_mean` is the mean of
  the image scores (the same when every image has the same number of questions).
- A category (groups.CATEGORIES): the mean of its dimensions' scores; overall: the mean of the categories.
  Dimensions in groups.SKIPPED (text) enter neither.
Scores are fractions in [0, 1]; tables print them as percentages, as the paper does.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean

from .files import LENGTHS
from .groups import CATEGORIES, SKIPPED, category_of


def image_score(expected: list[str], answers: list[str | None]) -> dict:
    if len(expected) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(expected)} questions")
    correct = sum(a == e for a, e in zip(answers, expected))
    return {"correct": correct, "total": len(expected), "unparsed": sum(a is None for a in answers),
            "score": correct / len(expected)}


def dimension_scores(images: list[dict]) -> dict[str, dict[str, dict]]:
    """images: dicts with dimension, length, correct, total, unparsed, score -> [dimension][length] -> stats."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for im in images:
        groups[(im["dimension"], im["length"])].append(im)
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for (dim, length), ims in sorted(groups.items()):
        asked = sum(i["total"] for i in ims)
        correct = sum(i["correct"] for i in ims)
        out[dim][length] = {
            "images": len(ims), "questions": asked, "correct": correct,
            "unparsed": sum(i["unparsed"] for i in ims),
            "score": correct / asked, "image_mean": fmean(i["score"] for i in ims),
        }
    return dict(out)


def _mean(values: list[float]) -> float | None:
    return fmean(values) if values else None


def category_scores(dims: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Only dimensions that were judged count; a category with none has score None for that length."""
    out = {}
    for name, members in CATEGORIES.items():
        row = {"dimensions": [d for d in members if d in dims and d not in SKIPPED]}
        for length in LENGTHS:
            row[length] = _mean([dims[d][length]["score"] for d in row["dimensions"] if length in dims[d]])
        if all(d in SKIPPED for d in members):
            row["skipped"] = "; ".join(SKIPPED[d] for d in members)
        out[name] = row
    return out


def overall_scores(categories: dict[str, dict]) -> dict:
    out = {}
    for length in LENGTHS:
        used = [name for name, row in categories.items() if row[length] is not None]
        out[length] = _mean([categories[name][length] for name in used])
        out[f"{length}_categories"] = len(used)
    out["categories_total"] = len(CATEGORIES)
    out["note"] = (f"mean over the categories judged; the published overall averages all {len(CATEGORIES)} "
                   "including Text (OCR-scored), so this one is not directly comparable")
    return out


def summarize(images: list[dict]) -> dict:
    dims = dimension_scores(images)
    cats = category_scores(dims)
    uncategorised = sorted(d for d in dims if category_of(d) is None)
    return {"dimensions": dims, "categories": cats, "overall": overall_scores(cats),
            "uncategorised_dimensions": uncategorised}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:6.2f}"


def format_table(summary: dict) -> str:
    """Dimensions, then categories, then overall; short and long side by side, in percent."""
    rows = [("dimension", "short", "long", "images")]
    for dim, by_len in summary["dimensions"].items():
        n = "/".join(str(by_len[L]["images"]) for L in LENGTHS if L in by_len)
        rows.append((dim, _pct(by_len.get("short", {}).get("score")), _pct(by_len.get("long", {}).get("score")), n))
    rows.append(("", "", "", ""))
    for name, row in summary["categories"].items():
        rows.append((name, _pct(row["short"]), _pct(row["long"]), "skipped" if "skipped" in row else ""))
    o = summary["overall"]
    rows.append(("", "", "", ""))
    rows.append((f"overall ({o['short_categories']}/{o['categories_total']} categories)", _pct(o["short"]),
                 _pct(o["long"]), ""))
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:>7}  {r[2]:>7}  {r[3]}".rstrip() for r in rows]
    for dim, why in summary.get("skipped", {}).items():
        lines.append(f"skipped {dim}: {why}")
    return "\n".join(lines)
