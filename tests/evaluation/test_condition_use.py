"""The condition-use diagnostic: prompt dependence of the query states and the right/shuffled loss gap."""

import copy

import pytest
import torch
from PIL import Image

from uniimage.evaluation.condition_use import (
    attribute_loss_gaps,
    attribute_swaps,
    pair_loss_gaps,
    pair_swaps,
    linear_probe,
    structure_probes,
    structure_targets,
    condition_loss_gap,
    factor_shares,
    factor_shares_of,
    latent_factor_shares,
    prompt_dependence,
    read_pairs,
)
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.dataset import write_dataset

CAPTIONS = ["a red circle", "two blue squares", "a star left of a triangle", "three green stars"]


@pytest.fixture(scope="module")
def blind(tiny_pipeline):
    """The tiny pipeline with its connector zeroed: it ignores the MLLM, so every caption gives the same condition."""
    pipe = copy.copy(tiny_pipeline)
    pipe.model = copy.deepcopy(tiny_pipeline.model)
    pipe.condition_cache = copy.deepcopy(tiny_pipeline.condition_cache)
    with torch.no_grad():
        pipe.model.connector[0].weight.zero_()
    return pipe


def images(n, size=32):
    return [Image.new("RGB", (size, size), (40 * i, 200 - 40 * i, 90)) for i in range(n)]


def test_prompt_dependence_is_zero_for_one_prompt_and_positive_for_many(tiny_pipeline):
    assert prompt_dependence(tiny_pipeline, ["a red circle"] * 3) == pytest.approx(0.0, abs=1e-9)
    assert prompt_dependence(tiny_pipeline, CAPTIONS) > 1e-4


def test_loss_gap_sees_a_condition_that_carries_nothing(tiny_pipeline, blind):
    gap = condition_loss_gap(tiny_pipeline, images(4), CAPTIONS)
    assert set(gap) == {"right", "shuffled", "empty"} and gap["right"] != gap["shuffled"]
    gap = condition_loss_gap(blind, images(4), CAPTIONS)
    assert gap["right"] == pytest.approx(gap["shuffled"], abs=1e-6) == pytest.approx(gap["empty"], abs=1e-6)


def test_loss_gap_needs_pairs(tiny_pipeline):
    with pytest.raises(ValueError, match="at least 2"):
        condition_loss_gap(tiny_pipeline, images(1), CAPTIONS[:1])


def test_reads_pairs_from_a_training_jsonl(tmp_path):
    write_dataset(tmp_path, 5, 0, 3, split="train", image_size=32, formats=("jsonl",))
    ims, caps = read_pairs(tmp_path / "train.jsonl", 4)
    assert len(ims) == len(caps) == 4 and all(im.size == (32, 32) for im in ims) and all(caps)


def test_factor_shares_split_additive_states_into_colour_and_shape():
    colour, shape = torch.randn(6, 1, 8), torch.randn(1, 4, 8)
    only_colour = factor_shares_of(colour.expand(6, 4, 8))
    assert only_colour["colour"] == pytest.approx(1.0) and only_colour["shape"] == pytest.approx(0.0, abs=1e-12)
    additive = factor_shares_of(colour + 3 * shape)
    assert additive["interaction"] == pytest.approx(0.0, abs=1e-12)
    assert additive["shape"] > additive["colour"] > 0 and sum(additive.values()) == pytest.approx(1.0)
    assert factor_shares_of(torch.randn(6, 4, 8))["interaction"] > 0.3
    with pytest.raises(ValueError, match="do not vary"):
        factor_shares_of(torch.ones(6, 4, 8))


def test_factor_shares_of_a_pipeline_sum_to_one(tiny_pipeline):
    for after_connector in (False, True):
        shares = factor_shares(tiny_pipeline, after_connector)
        assert set(shares) == {"colour", "shape", "interaction"}
        assert sum(shares.values()) == pytest.approx(1.0) and all(0 <= v <= 1 for v in shares.values())
    latents = latent_factor_shares(tiny_pipeline)  # even an untrained VAE sees colour and shape in the pixels
    assert latents["colour"] > 0.05 and latents["shape"] > 0.01 and sum(latents.values()) == pytest.approx(1.0)


def test_attribute_swaps_change_one_word_and_never_make_a_heldout_pair():
    heldout, rows = heldout_combinations(), attribute_swaps(64, seed=3)
    assert [r["right"] for r in rows] == [r["right"] for r in attribute_swaps(64, seed=3)]
    for r in rows:
        (obj,) = r["scene"].objects
        assert r["right"] == f"a {obj.color} {obj.shape}"
        for key, changed_word in (("colour_swapped", 1), ("shape_swapped", 2)):
            a, b = r["right"].split(), r[key].split()
            assert [i for i in range(3) if a[i] != b[i]] == [changed_word]
            assert not heldout.has_color_shape(b[1], b[2])


def test_attribute_gaps_vanish_when_the_condition_carries_nothing(tiny_pipeline, blind):
    losses = attribute_loss_gaps(tiny_pipeline, 4)
    assert set(losses) == {"right", "colour_swapped", "shape_swapped"}
    assert losses["right"] != losses["colour_swapped"]
    losses = attribute_loss_gaps(blind, 4)
    assert losses["right"] == pytest.approx(losses["colour_swapped"], abs=1e-6) == pytest.approx(losses["shape_swapped"], abs=1e-6)
    with pytest.raises(ValueError, match="n >= 1"):
        attribute_loss_gaps(tiny_pipeline, 0)


def test_pair_swaps_swap_the_binding_or_mirror_the_relation_and_stay_in_the_training_split():
    from uniimage.shapes.relations import relation_holds
    from uniimage.shapes.vocab import MIRROR

    heldout, rows = heldout_combinations(), pair_swaps(48, seed=1)
    assert [r["binding_right"] for r in rows] == [r["binding_right"] for r in pair_swaps(48, seed=1)]
    for r in rows:
        first, second = r["binding_scene"].objects
        assert r["binding_right"] == f"a {first.color} {first.shape} and a {second.color} {second.shape}"
        assert r["binding_swapped"] == f"a {second.color} {first.shape} and a {first.color} {second.shape}"
        assert first.color != second.color
        for o in (first, second):  # neither caption names a held-out colour-shape pair
            assert not heldout.has_color_shape(first.color, o.shape) and not heldout.has_color_shape(second.color, o.shape)
        a, b = r["relation_scene"].objects
        relation = r["relation_right"][len(f"a {a.shape} "):-len(f" a {b.shape}")]
        assert relation in MIRROR and relation_holds(a, b, relation, margin=0.8, cone=0.85)
        assert r["relation_swapped"] == f"a {a.shape} {MIRROR[relation]} a {b.shape}"
        assert not heldout.has_position(a.shape, relation, b.shape)
        assert not heldout.has_position(a.shape, MIRROR[relation], b.shape)


def test_pair_gaps_vanish_when_the_condition_carries_nothing(tiny_pipeline, blind):
    losses = pair_loss_gaps(tiny_pipeline, 3)
    assert set(losses) == {"binding_right", "binding_swapped", "relation_right", "relation_swapped"}
    assert losses["binding_right"] != losses["binding_swapped"] and losses["relation_right"] != losses["relation_swapped"]
    losses = pair_loss_gaps(blind, 3)
    assert losses["binding_right"] == pytest.approx(losses["binding_swapped"], abs=1e-6)
    assert losses["relation_right"] == pytest.approx(losses["relation_swapped"], abs=1e-6)
    with pytest.raises(ValueError, match="n >= 1"):
        pair_loss_gaps(tiny_pipeline, 0)


def test_linear_probe_reads_a_planted_label_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (200,), generator=gen)
    signal = torch.nn.functional.one_hot(labels, 8).float() + 0.1 * torch.randn(200, 8, generator=gen)
    noise = torch.randn(200, 8, generator=gen)
    split = [(signal[150:], labels[150:])]
    assert linear_probe(signal[:150], labels[:150], split, 4) == [1.0]
    (chance,) = linear_probe(noise[:150], labels[:150], [(noise[150:], labels[150:])], 4)
    assert chance < 0.5


def test_structure_targets_name_the_shapes_in_sentence_order():
    from uniimage.shapes.prompts import t2i_items
    from uniimage.shapes.vocab import RELATIONS, SHAPES

    items = {it.metadata["tag"]: it for it in t2i_items(12, "train", 0, heldout_combinations())}
    position = items["position"]
    targets = structure_targets(position.metadata)
    words = position.prompt.split()
    first, second = SHAPES[targets["position.shape_first"]], SHAPES[targets["position.shape_second"]]
    assert words.index(first) < len(words) - 1 - words[::-1].index(second)
    assert RELATIONS[targets["position.relation"]].split()[0] in position.prompt or "top" in position.prompt or "underneath" in position.prompt
    attr = structure_targets(items["color_attr"].metadata)
    assert set(attr) == {"color_attr.shape_first", "color_attr.shape_second", "color_attr.colour_first", "color_attr.colour_second"}
    assert structure_targets(items["single_object"].metadata) is None


def test_structure_probes_report_every_target_on_both_splits(tiny_pipeline):
    out = structure_probes(tiny_pipeline, 60)
    assert set(out) == {"color_attr.shape_first", "color_attr.shape_second", "color_attr.colour_first",
                        "color_attr.colour_second", "position.shape_first", "position.shape_second", "position.relation"}
    for target in out.values():
        assert set(target) == {"last_block", "token_mean"}
        for unseen, heldout in target.values():
            assert 0.0 <= heldout <= 1.0 and (unseen != unseen or 0.0 <= unseen <= 1.0)  # nan: no unseen prompt of a kind
    with pytest.raises(ValueError, match="n >= 12"):
        structure_probes(tiny_pipeline, 5)
