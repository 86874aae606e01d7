"""Scorer accuracy on ground-truth renders: every object found, with the right shape and colour."""

import random

import numpy as np
import pytest

from uniimage.shapes.detect import detect_objects
from uniimage.shapes.layout import place_objects
from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene
from uniimage.shapes.vocab import COLORS, SHAPES


def _random_scene(index: int) -> Scene:
    rng = random.Random(f"detect-test:{index}")
    specs = [(rng.choice(SHAPES), rng.choice(list(COLORS))) for _ in range(rng.randint(1, 4))]
    return Scene(tuple(place_objects(rng, specs)), rng.choice(["white", "lightgrey"]))


def _scene_read_correctly(scene: Scene, size: int) -> bool:
    found = sorted((d.shape, d.color) for d in detect_objects(render_scene(scene, size)))
    return found == sorted((o.shape, o.color) for o in scene.objects)


@pytest.mark.parametrize("size,n_scenes", [(64, 300), (32, 150), (128, 60)])
def test_ground_truth_accuracy(size, n_scenes):
    correct = sum(_scene_read_correctly(_random_scene(i), size) for i in range(n_scenes))
    assert correct / n_scenes >= 0.99, f"{correct}/{n_scenes} scenes read correctly at {size} px"


def test_centres_match_scene():
    scene = _random_scene(7)
    detections = detect_objects(render_scene(scene, 128))
    for obj in scene.objects:
        nearest = min(detections, key=lambda d: np.hypot(d.center[0] - obj.center[0], d.center[1] - obj.center[1]))
        assert np.hypot(nearest.center[0] - obj.center[0], nearest.center[1] - obj.center[1]) < 0.02


def test_accepts_uint8_array_and_large_images():
    scene = _random_scene(3)
    from_array = detect_objects(np.asarray(render_scene(scene, 64)))
    from_large = detect_objects(render_scene(scene, 512))  # downscaled internally
    expected = sorted((o.shape, o.color) for o in scene.objects)
    assert sorted((d.shape, d.color) for d in from_array) == expected
    assert sorted((d.shape, d.color) for d in from_large) == expected


def test_blank_and_noise_images_have_no_shapes():
    assert detect_objects(np.full((64, 64, 3), 255, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert len(detect_objects(noise)) <= 1  # speckle never forms many solid components
