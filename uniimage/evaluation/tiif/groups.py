"""How TIIF-Bench rolls dimensions up into the nine categories of its leaderboard, and which we skip.

A category's score is the mean of its dimensions' scores; the overall score is the mean of the
categories (each per prompt length). These are the categories of the paper's tables and of the
official summary step.
"""

from __future__ import annotations

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Basic: Attribute": ("shape+color", "color+texture", "texture+color", "shape+texture"),
    "Basic: Relation": ("2d_spatial_relation", "3d_spatial_relation", "action+2d", "action+3d"),
    "Basic: Reasoning": ("numeracy", "negation", "differentiation", "comparison"),
    "Advanced: Attribute+Relation": ("action+color", "action+texture", "color+2d", "color+3d",
                                     "shape+2d", "shape+3d", "texture+2d", "texture+3d"),
    "Advanced: Attribute+Reasoning": ("numeracy+color", "numeracy+texture", "comparison+color", "comparison+texture",
                                      "differentiation+color", "differentiation+texture", "negation+color",
                                      "negation+texture"),
    "Advanced: Relation+Reasoning": ("numeracy+2d", "numeracy+3d", "comparison+2d", "comparison+3d",
                                     "differentiation+2d", "differentiation+3d", "negation+2d", "negation+3d"),
    "Advanced: Text": ("text",),
    "Advanced: Style": ("style",),
    "Designer: Real world": ("real_world",),
}

# Text rendering is scored by OCR in the official kit (edit distance and recall of the words to render),
# not by yes/no questions: out of scope here, so it is never asked and never enters a mean.
SKIPPED: dict[str, str] = {
    "text": "text rendering is scored by OCR (PaddleOCR, GNED and recall) in the official kit; "
            "not judged here, and left out of the category and overall means",
}


def category_of(dimension: str) -> str | None:
    for name, members in CATEGORIES.items():
        if dimension in members:
            return name
    return None
