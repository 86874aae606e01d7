"""Our own small byte-level BPE tokenizers with Qwen2.5-VL's special tokens and chat format.

Qwen's 151k-token tokenizer cannot be shipped or downloaded here, so the `tiny`/`small` presets
(scripts/build_presets.py) and the demo model use tokenizers trained with `train_bpe_tokenizer` on a
few thousand lines; the demo's on ShapesEval's training-split texts: captions, edit instructions,
questions, answers and the system prompts the model will be given.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from uniimage.config import PUBLISHED_SYSTEM_PROMPT as UNIIMAGE_SYSTEM
from uniimage.shapes.edits import edit_items
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.templates import RELATION_PHRASES
from uniimage.shapes.vocab import COLORS, NUMBER_WORDS, PLURALS, SHAPES
from uniimage.shapes.vqa import vqa_items

from .describe import DESCRIBE_PROMPT, describe_scene


# Qwen2.5-VL's special tokens, in Qwen's order (ids follow the ordinary vocabulary).
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                  "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

DEFAULT_SYSTEM = "You are a helpful assistant."

# Qwen2-VL's chat format, written as our own template: a default system turn, images as
# <|vision_start|><|image_pad|><|vision_end|>, the generation prompt "<|im_start|>assistant\n".
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def train_bpe_tokenizer(lines: list[str], ordinary_vocab: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE of `ordinary_vocab` tokens trained on `lines`, then Qwen's special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=ordinary_vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(lines, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS)
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 32768
    return fast


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
