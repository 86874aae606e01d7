import pytest

from uniimage.shapes.score import judge_vqa


@pytest.mark.parametrize(
    "answer,expected",
    [("Red.", "red"), ("three", "3"), ("3", "three"), ("Yes!", "yes"), ("Circles", "circle"), ("The square is red.", "red"),
     ("There are 2 stars.", "2"), ("a violet one", "purple")],
)
def test_accepted(answer, expected):
    assert judge_vqa(answer, expected)[0]


@pytest.mark.parametrize(
    "answer,expected",
    [("blue", "red"), ("red or blue", "red"), ("4", "3"), ("no", "yes"), ("", "red"), ("two or three", "3"), ("square", "circle")],
)
def test_rejected(answer, expected):
    ok, reason = judge_vqa(answer, expected)
    assert not ok and "expected" in reason
