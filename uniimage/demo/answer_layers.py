"""Demo stage 4: answer layers. The DiT reads the MLLM only up to the ladder's deepest hidden state, so the
decoder layers from there up (and the final norm) serve understanding alone. This stage stacks `grow` new
layers on top and trains those layers on VQA: every image the model draws keeps its exact values.

A documented demo deviation (uniimage/demo/README.md, "Demo v13" and "Demo v14"): the published MLLM is a pretrained
Qwen2.5-VL that answers well as it is; ours is a 2.3M-parameter VLM made from scratch in stage 0, whose
lower layers stay as generation trained them.
"""

from __future__ import annotations

import random
from dataclasses import replace

import torch
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLDecoderLayer

from uniimage.errors import ConfigError
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.relations import relations_between
from uniimage.shapes.vqa import make_vqa_item, vqa_items
from uniimage.shapes.prompts import item_rng

from .answer_prior import AnswerPrior
from .describe import DESCRIBE_PROMPT, describe_scene
from .position_supervision import PositionHeads
from .train_vlm import train_steps
from .vlm_data import Example


def answer_layer_start(model) -> int:
    """Index of the first decoder layer that generation never runs (the deepest ladder state is its input)."""
    deepest = max(model.ladder)
    if deepest >= model.num_mllm_layers:
        raise ConfigError("the ladder reads the MLLM's final (normed) state, so every decoder layer conditions the DiT: "
                          "no layer is free to train for answers")
    return deepest


def grow_answer_layers(model, n: int) -> None:
    """Stack `n` decoder layers on the MLLM's text model: copies of its top layer whose output projections are
    zero, so each starts as the identity and the model answers exactly as before. The ladder is pinned to its
    current indices (the "ladder" spec means the top K states, which would move)."""
    if n < 0:
        raise ConfigError(f"grow must be >= 0, got {n}")
    answer_layer_start(model)  # refuses a ladder that reads the final state
    text = model.text_model
    model.config = replace(model.config, ladder=list(model.ladder))
    config, top = text.config, len(text.layers)
    config.layer_types = list(config.layer_types) + [config.layer_types[-1]] * n
    config.num_hidden_layers = top + n
    like = text.layers[-1].mlp.down_proj.weight  # new layers take the model's device and dtype
    for index in range(top, top + n):
        layer = Qwen2_5_VLDecoderLayer(config, index).to(like.device, like.dtype)
        layer.load_state_dict(text.layers[top - 1].state_dict())
        torch.nn.init.zeros_(layer.self_attn.o_proj.weight)
        torch.nn.init.zeros_(layer.mlp.down_proj.weight)
        text.layers.append(layer)


def answer_parameters(model, tower: bool = False) -> list[torch.nn.Parameter]:
    """The weights only understanding uses: the decoder layers above the ladder and the final norm. With `tower`,
    the vision tower too: text-to-image never runs it, but edits read the source image through it, so an edited
    image then changes (a text-to-image one does not)."""
    text = model.text_model
    layers = text.layers[answer_layer_start(model):]
    modules = (*layers, text.norm, *([model.mllm.model.visual] if tower else []))
    return [p for module in modules for p in module.parameters()]


# "Which shape is on the left?": the side -> the relation its object stands in to the other object.
WHERE_QUESTIONS = {"on the left": "left of", "on the right": "right of", "at the top": "above", "at the bottom": "below"}


def where_example(item, rng: random.Random) -> Example | None:
    """For a position question's two-object scene, "which shape is <side>?" answered with a shape word: the
    object's place asked directly, without the yes/no of the relation claim (None when no side is clear-cut)."""
    a, b = item.scene.objects
    sides = [(side, x.shape) for side, relation in WHERE_QUESTIONS.items() for x, y in ((a, b), (b, a))
             if relation in relations_between(x, y)]
    if not sides:
        return None
    side, shape = rng.choice(sides)
    return Example(item.scene, f"which shape is {side}?", shape)


def answer_examples(n: int, seed: int, describe_share: float = 0.2, where_share: float = 0.0,
                    position_extra: int = 0) -> list[Example]:
    """`n` fresh training-split ShapesEval questions (the evaluation set uses another seed); a `describe_share` of
    them is asked "Describe this image." instead (the full caption), so `uniimage describe`'s default keeps working;
    a `where_share` of the position questions is asked "which shape is on the left?" (or right, top, bottom)
    instead (`where_example`); `position_extra` more position questions are added (the training order is
    shuffled, so they mix in)."""
    for name, share in (("describe_share", describe_share), ("where_share", where_share)):
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {share}")
    if position_extra < 0:
        raise ConfigError(f"position_extra must be >= 0, got {position_extra}")
    rng = random.Random(seed)
    heldout = heldout_combinations()
    extra = [make_vqa_item("position", item_rng(seed, "train", "vqa-position", i), "train", heldout) for i in range(position_extra)]
    examples = []
    for item in vqa_items(n, "train", seed, heldout) + extra:
        if rng.random() < describe_share:
            examples.append(Example(item.scene, DESCRIBE_PROMPT, describe_scene(item.scene)))
        elif item.kind == "position" and where_share and rng.random() < where_share and (where := where_example(item, rng)):
            examples.append(where)
        else:
            examples.append(Example(item.scene, item.question, item.answer))
    return examples


def train_answer_layers(model, tokenizer, image_processor, examples: list[Example], steps: int, batch: int = 16,
                        lr: float = 1e-3, seed: int = 0, log_every: int = 100, prior_tau: float = 0.0,
                        tower: bool = False, rank: int = 0, world: int = 1, cell_weight: float = 0.0,
                        cell_positions: bool = False, position_weight: float = 0.0) -> list[float]:
    """AdamW on the language-model loss of the answers, through the answer layers only (everything else is
    frozen, the tied embedding / LM head included). `prior_tau` > 0 adjusts the loss's logits by the question
    words' answer prior (`answer_prior.py`); `tower` trains the vision tower too (see `answer_parameters`).
    `world` > 1: this is process `rank` of that many, each on its share of every batch (`data_parallel.py`).
    `cell_weight` > 0 (with `tower`) adds stage 0's per-cell loss on the image tokens, with `cell_positions`
    their grid positions too (`cell_supervision.py`). `position_weight` > 0 adds the position questions' dense
    targets (`position_supervision.py`): object centres at the shape words after the first answer layer, their
    difference at the last prompt token before the top layer. Returns the loss of every step."""
    if cell_weight and not tower:
        raise ConfigError("the per-cell loss trains the vision tower: it needs tower=True")
    mllm = model.mllm
    params = answer_parameters(model, tower)
    for p in mllm.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    prior = AnswerPrior(tokenizer, tau=prior_tau).fit(examples) if prior_tau else None
    position = None
    if position_weight:
        start, top = answer_layer_start(model), model.num_mllm_layers
        if top - start < 2:
            raise ConfigError("the position targets need at least two answer layers (grow them)")
        position = (PositionHeads(mllm.config.text_config.hidden_size, start + 1, top - 1), position_weight)
    losses = train_steps(mllm, tokenizer, image_processor, examples, steps, batch, lr, seed, log_every=log_every,
                         params=params, name="answer layers", prior=prior, rank=rank, world=world,
                         cell_weight=cell_weight, cell_positions=cell_positions, position=position)
    mllm.eval()
    for p in params:
        p.requires_grad_(False)
    return losses
