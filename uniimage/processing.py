"""UniImageProcessor: text and images -> MLLM inputs, in exactly the published prompt format.

A generation row is: system turn (the config's system prompt), user turn with one image placeholder
per input image then the caption (cut to `max_input_text_tokens` tokens), the assistant generation
prompt, then `<|vision_start|><|img0|>...<|imgN-1|><|vision_end|><|im_end|>`. Rows are left-padded.
Understanding uses the MLLM's plain chat format and its own saved pixel budget.

The tokenizer's vocabulary is topped up with filler tokens to the embedding size, then the query
tokens are added, so `<|imgI|>` gets id vocab_size + I as in the published model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from PIL import Image

from .errors import InputError

logger = logging.getLogger(__name__)

IMAGE_PAD = "<|image_pad|>"
VISION_START, VISION_END, IM_END = "<|vision_start|>", "<|vision_end|>", "<|im_end|>"


def image_token_types(input_ids: torch.Tensor, tokenizer) -> torch.Tensor:
    """`mm_token_type_ids` for a Qwen2.5-VL forward: 1 on image tokens. Qwen2.5-VL gives them 3D (t, h, w)
    rotary positions only when told which they are; without it they get 1D text positions, unlike in every
    UniImage forward (which computes the same types from the config's image_token_id)."""
    return (input_ids == tokenizer.convert_tokens_to_ids(IMAGE_PAD)).int()


def query_token(i: int) -> str:
    return f"<|img{i}|>"


def add_query_tokens(tokenizer, vocab_size: int, num_queries: int):
    """Fill the tokenizer up to `vocab_size`, then add the query tokens (ids vocab_size ...)."""
    if query_token(0) in tokenizer.get_vocab():
        first = tokenizer.convert_tokens_to_ids(query_token(0))
    else:
        fill = vocab_size - len(tokenizer)
        if fill < 0:
            raise InputError(f"tokenizer has {len(tokenizer)} tokens, more than the embedding's {vocab_size} rows")
        tokenizer.add_tokens([f"<|pad_token_{i}|>" for i in range(fill)], special_tokens=True)
        tokenizer.add_tokens([query_token(i) for i in range(num_queries)], special_tokens=True)
        first = tokenizer.convert_tokens_to_ids(query_token(0))
    if first != vocab_size:
        raise InputError(f"query token <|img0|> has id {first}, expected {vocab_size}")
    return tokenizer


@dataclass
class MLLMInputs:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None

    def to(self, device):
        move = lambda t: t.to(device) if t is not None else None
        return MLLMInputs(*(move(t) for t in (self.input_ids, self.attention_mask, self.pixel_values, self.image_grid_thw)))


class UniImageProcessor:
    def __init__(self, tokenizer, image_processor, vocab_size: int, num_queries: int, system_prompt: str,
                 max_text_tokens: int = 256, image_pixels: int = 256 * 28 * 28):
        self.tokenizer = add_query_tokens(tokenizer, vocab_size, num_queries)
        self.image_processor = image_processor
        self.num_queries = num_queries
        self.system_prompt = system_prompt
        self.max_text_tokens = max_text_tokens
        self.image_pixels = image_pixels
        self.suffix = VISION_START + "".join(query_token(i) for i in range(num_queries)) + VISION_END + IM_END

    # ---- text ----
    def truncate(self, caption: str) -> str:
        """Cut to `max_text_tokens` tokens and decode back, as the published model saw captions."""
        ids = self.tokenizer(caption, add_special_tokens=False, verbose=False)["input_ids"]  # our warning, not theirs
        if len(ids) > self.max_text_tokens:
            logger.warning("prompt is %d tokens long; truncated to %d", len(ids), self.max_text_tokens)
            ids = ids[: self.max_text_tokens]
        return self.tokenizer.decode(ids)

    def generation_text(self, caption: str, num_images: int) -> str:
        content = [{"type": "image"}] * num_images + [{"type": "text", "text": self.truncate(caption)}]
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": content}]
        chat = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return chat + self.suffix

    # ---- images ----
    def pixels(self, images: list[Image.Image], budget: int | None):
        """(pixel_values, image_grid_thw) of `images` at `budget` pixels each (None: the processor's own)."""
        if not images:
            return None, None
        kwargs = {"size": {"shortest_edge": budget, "longest_edge": budget}} if budget else {}
        out = self.image_processor(images=images, return_tensors="pt", **kwargs)
        return out["pixel_values"], out["image_grid_thw"]

    def _expand_image_pads(self, texts: list[str], grid_thw) -> list[str]:
        """Each placeholder becomes as many pad tokens as the image has merged patches. (Qwen2_5_VLProcessor
        expands only while it preprocesses the images itself; here rows share images preprocessed once.)"""
        if grid_thw is None:
            return texts
        merge = self.image_processor.merge_size ** 2
        counts = iter((grid_thw.prod(-1) // merge).tolist())
        out = []
        for text in texts:
            pieces = text.split(IMAGE_PAD)
            expanded = pieces[0]
            for piece in pieces[1:]:
                expanded += IMAGE_PAD * next(counts) + piece
            out.append(expanded)
        return out

    def tokens(self, texts: list[str], grid_thw) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded (input_ids, attention_mask), image placeholders expanded by `grid_thw` (one row per image)."""
        enc = self.tokenizer(self._expand_image_pads(texts, grid_thw), padding=True, padding_side="left",
                             add_special_tokens=False, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def _tokenize(self, texts, images, budget) -> MLLMInputs:
        pixel_values, grid = self.pixels(images, budget)
        return MLLMInputs(*self.tokens(texts, grid), pixel_values, grid)

    def generation_texts(self, captions: list[str], images: list[list[Image.Image]]) -> list[str]:
        return [self.generation_text(c, len(ims)) for c, ims in zip(captions, images)]

    def generation_inputs(self, captions: list[str], images: list[list[Image.Image]]) -> MLLMInputs:
        """One row per caption; `images[r]` are row r's input images (possibly none)."""
        return self._tokenize(self.generation_texts(captions, images), [im for ims in images for im in ims], self.image_pixels)

    def understanding_inputs(self, images: list[Image.Image], question: str, history: list[dict] | None = None) -> MLLMInputs:
        """Plain Qwen2.5-VL chat: the images, then the question; the processor's own pixel budget."""
        content = [{"type": "image"}] * len(images) + [{"type": "text", "text": question}]
        messages = list(history or []) + [{"role": "user", "content": content}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self._tokenize([text], images, None)
