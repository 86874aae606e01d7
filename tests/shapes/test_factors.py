"""Per-factor verdicts: each factor judged on its own, so a miss says which part of the prompt failed."""

from uniimage.shapes.detect import Detection
from uniimage.shapes.factors import factor_shares, factor_verdicts


def det(color, shape, x, y, size=0.2):
    return Detection(shape=shape, color=color, center=(x, y), size=size, bbox=(0, 0, 1, 1), features=None)


COLOURS = {"tag": "colors", "include": [{"class": "star", "count": 1, "color": "blue"}], "exclude": []}
ATTR = {"tag": "color_attr", "include": [{"class": "circle", "count": 1, "color": "red"},
                                         {"class": "square", "count": 1, "color": "blue"}], "exclude": []}
POSITION = {"tag": "position", "include": [{"class": "square", "count": 1},
                                           {"class": "circle", "count": 1, "position": ["above", 0]}], "exclude": []}
COUNTING = {"tag": "counting", "include": [{"class": "star", "count": 3}], "exclude": [{"class": "star", "count": 4}]}


def test_right_shape_wrong_colour_is_a_colour_miss_only():
    v = factor_verdicts([det("red", "star", 0.5, 0.5)], COLOURS)
    assert v == {"shape": True, "count": None, "colour": False, "binding": False, "position": None}


def test_swapped_colours_are_a_binding_miss_with_colours_and_shapes_right():
    v = factor_verdicts([det("blue", "circle", 0.3, 0.5), det("red", "square", 0.7, 0.5)], ATTR)
    assert v == {"shape": True, "count": None, "colour": True, "binding": False, "position": None}


def test_position_ignores_colour_and_needs_the_relation():
    above = [det("green", "circle", 0.5, 0.2), det("yellow", "square", 0.5, 0.8)]
    below = [det("green", "circle", 0.5, 0.8), det("yellow", "square", 0.5, 0.2)]
    assert factor_verdicts(above, POSITION)["position"] is True
    assert factor_verdicts(below, POSITION) == {"shape": True, "count": None, "colour": None, "binding": None,
                                                "position": False}


def test_count_needs_exactly_enough():
    stars = [det("red", "star", 0.2 * i, 0.5) for i in range(1, 5)]
    assert factor_verdicts(stars[:3], COUNTING)["count"] is True
    assert factor_verdicts(stars[:2], COUNTING)["count"] is False
    assert factor_verdicts(stars, COUNTING)["count"] is False  # four: too many
    assert factor_verdicts(stars[:2], COUNTING)["shape"] is True


def test_shares_are_over_the_images_of_rows_that_name_the_factor():
    rows = [{"factors": {"shape": [True, False], "colour": [True, True], "position": [None, None]}},
            {"factors": {"shape": [True, True], "colour": [False, False], "position": [None, None]}},
            {"category": "vqa"}]
    assert factor_shares(rows) == {"shape": 0.75, "colour": 0.5}
