import random

import pytest
import torch
from PIL import Image

from uniimage.data.dropout import DropoutConfig, apply_cfg_dropout, dropout_config

N = 20000


def t2i():
    return {"target": torch.zeros(3, 2, 2), "caption": "a cat", "source_images": [], "kind": "t2i", "key": "k"}


def edit():
    srcs = [Image.new("RGB", (7, 5), (200, 100, 50)), Image.new("RGB", (3, 9), (1, 2, 3))]
    return {"target": torch.zeros(3, 2, 2), "caption": "make it blue", "source_images": srcs, "kind": "edit", "key": "k"}


def is_black(img):
    return img.getextrema() == ((0, 0), (0, 0), (0, 0))


def test_t2i_caption_dropped_with_p_01():
    rng = random.Random(0)
    dropped = sum(apply_cfg_dropout(t2i(), rng)["caption"] == "" for _ in range(N))
    assert abs(dropped / N - 0.1) < 0.01


def test_edit_rule_joint_frequencies_torch_generator():
    g = torch.Generator().manual_seed(1)
    counts = {(c, i): 0 for c in (0, 1) for i in (0, 1)}
    sample = edit()
    for _ in range(N):
        out = apply_cfg_dropout(sample, g)
        cap, imgs = out["caption"] == "", all(is_black(im) for im in out["source_images"])
        counts[(int(cap), int(imgs))] += 1
    # caption dropped iff u < 0.2; images iff 0.1 <= u < 0.3, so:
    #   both: [0.1, 0.2) = 0.1; caption only: [0, 0.1) = 0.1; images only: [0.2, 0.3) = 0.1; neither: 0.7.
    expected = {(1, 1): 0.1, (1, 0): 0.1, (0, 1): 0.1, (0, 0): 0.7}
    for k, p in expected.items():
        assert abs(counts[k] / N - p) < 0.015, (k, counts[k] / N)


def test_black_images_keep_size_and_input_is_not_mutated():
    sample = edit()
    rng = random.Random(0)
    for _ in range(200):
        out = apply_cfg_dropout(sample, rng)
        assert [im.size for im in out["source_images"]] == [(7, 5), (3, 9)]
        assert all(im.mode == "RGB" for im in out["source_images"])
    assert sample["caption"] == "make it blue" and not is_black(sample["source_images"][0])


def test_probabilities_are_configurable_and_modes():
    cfg = DropoutConfig(mode="t2i", t2i_caption_p=0.5)
    rng = random.Random(3)
    dropped = sum(apply_cfg_dropout(edit(), rng, cfg)["caption"] == "" for _ in range(4000))
    assert abs(dropped / 4000 - 0.5) < 0.03
    never = DropoutConfig(edit_caption_below=0.0, edit_images_from=0.0, edit_images_below=0.0)
    out = [apply_cfg_dropout(edit(), rng, never) for _ in range(200)]
    assert all(o["caption"] == "make it blue" and not is_black(o["source_images"][0]) for o in out)
    # mode "edit" applies the mixed rule to t2i samples too: caption dropped 20% of the time.
    mixed = DropoutConfig(mode="edit")
    dropped = sum(apply_cfg_dropout(t2i(), rng, mixed)["caption"] == "" for _ in range(N))
    assert abs(dropped / N - 0.2) < 0.012


def test_bad_configs_rejected():
    with pytest.raises(ValueError):
        DropoutConfig(mode="sometimes")
    with pytest.raises(ValueError):
        DropoutConfig(t2i_caption_p=1.5)
    assert dropout_config(None) is None and dropout_config("t2i").mode == "t2i"
    assert dropout_config({"t2i_caption_p": 0.3}).t2i_caption_p == 0.3
