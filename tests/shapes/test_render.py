import numpy as np
import pytest

from uniimage.shapes.render import render_scene
from uniimage.shapes.scene import Scene, ShapeObject
from uniimage.shapes.vocab import BACKGROUNDS, COLORS


def _scene():
    return Scene((ShapeObject("circle", "red", (0.3, 0.3), 0.3), ShapeObject("star", "blue", (0.7, 0.7), 0.35)), "lightgrey")


def test_scene_json_round_trip():
    scene = _scene()
    assert Scene.from_json(scene.to_json()) == scene
    assert scene.count("circle") == 1 and scene.count(color="blue") == 1 and scene.count("square") == 0


def test_scene_rejects_unknown_vocabulary():
    with pytest.raises(ValueError):
        ShapeObject("hexagon", "red", (0.5, 0.5), 0.3)
    with pytest.raises(ValueError):
        ShapeObject("circle", "pink", (0.5, 0.5), 0.3)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_size_background_and_fill(size):
    image = render_scene(_scene(), size)
    assert image.size == (size, size) and image.mode == "RGB"
    pixels = np.asarray(image)
    assert tuple(pixels[0, -1]) == BACKGROUNDS["lightgrey"]  # empty corner
    assert tuple(pixels[int(0.3 * size), int(0.3 * size)]) == COLORS["red"]  # circle centre
    assert tuple(pixels[int(0.7 * size), int(0.7 * size)]) == COLORS["blue"]


def test_render_is_deterministic():
    assert np.array_equal(np.asarray(render_scene(_scene())), np.asarray(render_scene(_scene())))
