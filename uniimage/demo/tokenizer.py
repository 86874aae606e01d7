"""Our own small byte-level BPE tokenizer with Qwen2.5-VL's special tokens and chat format (the
approach of scripts/build_presets.py), trained on ShapesEval's training-split texts: captions, edit
instructions, questions, answers and the system prompts the model will be given.
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedTokenizerFast

from uniimage.config import PUBLISHED_SYSTEM_PROMPT as UNIIMAGE_SYSTEM
from uniimage.shapes.edits import edit_items
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.templates import RELATION_PHRASES
from uniimage.shapes.vocab import COLORS, NUMBER_WORDS, PLURALS, SHAPES
from uniimage.shapes.vqa import vqa_items
from uniimage.tokenization import DEFAULT_SYSTEM, SPECIAL_TOKENS, train_bpe_tokenizer  # noqa: F401 (re-exported)

from .describe import DESCRIBE_PROMPT, describe_scene


def corpus(n: int = 600, seed: int = 0) -> list[str]:
    """Training-split texts only; every vocabulary word is also listed, so rare ones get tokens."""
    heldout = heldout_combinations()
    words = [*SHAPES, *PLURALS.values(), *COLORS, *NUMBER_WORDS.values(), "yes", "no", "left", "right", "top", "bottom"]
    lines = [" ".join(words)] * 20 + [DEFAULT_SYSTEM, UNIIMAGE_SYSTEM, DESCRIBE_PROMPT] * 300
    lines += [p for phrases in RELATION_PHRASES.values() for p in phrases]
    for item in t2i_items(n, "train", seed, heldout):
        lines += [item.prompt, describe_scene(item.scene)]
    lines += [e.instruction for e in edit_items(n // 2, "train", seed, heldout)]
    lines += [f"{q.question} {q.answer}" for q in vqa_items(n, "train", seed, heldout)]
    return lines


def build_tokenizer(ordinary_vocab: int = 512, n: int = 600) -> PreTrainedTokenizerFast:
    return train_bpe_tokenizer(corpus(n), ordinary_vocab)


def save_tokenizer(tokenizer, folder: Path) -> None:
    tokenizer.save_pretrained(folder)
