"""The image-token probe: cell targets, a probe that reads what features encode (and not what they do not),
and the whole run on the shipped demo's vision tower."""

import pytest
import torch

from uniimage.demo.vision_probe import ATTRIBUTES, cell_targets, fit_probe, run, score_probe
from uniimage.shapes.scene import Scene, ShapeObject


def test_cell_targets_put_each_object_in_the_cell_of_its_centre():
    scene = Scene((ShapeObject("circle", "red", (0.1, 0.1), 0.2), ShapeObject("star", "blue", (0.9, 0.6), 0.2)), "white")
    t = cell_targets([scene], 4, 4)
    assert t["shape"].shape == (1, 16)
    assert t["shape"][0, 0] == ATTRIBUTES["shape"].index("circle") and t["colour"][0, 0] == ATTRIBUTES["colour"].index("red")
    assert t["shape"][0, 2 * 4 + 3] == ATTRIBUTES["shape"].index("star")  # row 2 (y 0.6), column 3 (x 0.9)
    empty = [c for c in range(16) if c not in (0, 11)]
    assert (t["shape"][0, empty] == len(ATTRIBUTES["shape"])).all() and (t["colour"][0, empty] == len(ATTRIBUTES["colour"])).all()


def _targets(n, cells, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randint(0, len(v) + 1, (n, cells), generator=g) for k, v in ATTRIBUTES.items()}


def test_probe_reads_encoded_attributes_and_not_noise():
    n, cells = 400, 16
    targets = _targets(n, cells, 0)
    onehot = torch.cat([torch.nn.functional.one_hot(targets[k], len(v) + 1) for k, v in ATTRIBUTES.items()], -1).float()
    encoded = torch.cat([onehot, 0.05 * torch.randn(n, cells, 8)], -1)
    probe = fit_probe(encoded[:300], {k: t[:300] for k, t in targets.items()}, steps=300)
    scores = score_probe(probe, encoded[300:], {k: t[300:] for k, t in targets.items()})
    assert scores["shape"] == 1.0 and scores["colour"] == 1.0 and scores["shape_empty"] == 1.0
    noise = torch.randn_like(encoded)
    probe = fit_probe(noise[:300], {k: t[:300] for k, t in targets.items()}, steps=300)
    scores = score_probe(probe, noise[300:], {k: t[300:] for k, t in targets.items()})
    assert scores["shape"] < 0.45 and scores["colour"] < 0.35  # chance 0.2 / 0.14 over the classes drawn


def test_probe_runs_on_the_demo_vision_tower():
    from uniimage.presets import load_preset_or_checkpoint

    model, processor, _ = load_preset_or_checkpoint("demo", torch.float32)
    report = run(model.requires_grad_(False).eval(), processor, n_train=24, n_test=12, steps=5)
    assert report["grid"] == [4, 4] and report["tokens"] == 16  # 112 px, 14 px patches merged 2 x 2
    assert report["chance"] == {"shape": 0.25, "colour": round(1 / 6, 3)}
    assert all(0.0 <= report[k] <= 1.0 for k in ("shape", "colour", "shape_empty", "colour_empty"))


def test_probe_cli_rejects_an_empty_set(capsys):
    from uniimage.cli.demo_vision_probe import main

    with pytest.raises(SystemExit):
        main(["demo", "--train", "0"])
    assert "--train must be at least 1, got 0" in capsys.readouterr().err
