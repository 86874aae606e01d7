import pytest
import torch
from PIL import Image

from uniimage.data import collate
from uniimage.data.decode import decode_record
from uniimage.data.fields import Record
from uniimage.data.stats import DataStats
from uniimage.data.transforms import TargetTransform, resize_short_side, to_tensor


def bands(size, colors, vertical=True):
    """An image split into equal bands (left->right if vertical, else top->bottom)."""
    w, h = size
    img = Image.new("RGB", size)
    n = len(colors)
    for i, c in enumerate(colors):
        box = (i * w // n, 0, (i + 1) * w // n, h) if vertical else (0, i * h // n, w, (i + 1) * h // n)
        img.paste(c, box)
    return img


RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
GREEN_T = torch.tensor([-1.0, 1.0, -1.0]).view(3, 1, 1)


def test_shape_and_range_exact_values():
    t = TargetTransform(16)(Image.new("RGB", (50, 20), (255, 0, 127)))
    assert t.shape == (3, 16, 16) and t.dtype == torch.float32
    assert torch.allclose(t[0], torch.tensor(1.0)) and torch.allclose(t[1], torch.tensor(-1.0))
    assert t[2].max().item() == pytest.approx(127 / 127.5 - 1)
    assert to_tensor(Image.new("RGB", (2, 2), (0, 0, 0))).min().item() == -1.0


def test_center_crop_wide_image_keeps_middle_band():
    # 60x20 -> short side 10 -> 30x10, crop columns 10..20: exactly the green band.
    out = TargetTransform(10)(bands((60, 20), [RED, GREEN, BLUE]))
    assert out.shape == (3, 10, 10)
    assert torch.allclose(out[:, :, 2:8], GREEN_T.expand(3, 10, 6), atol=0.05)  # away from resampled edges


def test_center_crop_tall_image_keeps_middle_band_no_resize():
    # Short side already S: pure crop, so every pixel is exactly green.
    out = TargetTransform(12)(bands((12, 36), [RED, GREEN, BLUE], vertical=False))
    assert torch.equal(out, GREEN_T.expand(3, 12, 12))


def test_center_crop_is_not_a_corner_crop():
    img = bands((30, 10), [RED, GREEN, BLUE])
    out = TargetTransform(10)(img)
    assert torch.equal(out, GREEN_T.expand(3, 10, 10))  # a left crop would be red


def test_resize_short_side_upscales_and_keeps_aspect():
    assert resize_short_side(Image.new("RGB", (8, 4)), 16).size == (32, 16)
    assert resize_short_side(Image.new("RGB", (300, 1000)), 100).size == (100, 333)


def _decode(img, transform):
    stats = DataStats()
    sample = decode_record(Record(key="k", target=img, caption="c"), transform, stats, "test")
    return sample, stats


def test_small_images_are_upscaled_and_counted():
    sample, stats = _decode(Image.new("RGB", (8, 6)), TargetTransform(16))
    assert sample["target"].shape == (3, 16, 16)
    assert (stats.upscaled, stats.yielded, stats.t2i) == (1, 1, 1)


def test_min_size_rejects_and_counts_too_small():
    sample, stats = _decode(Image.new("RGB", (8, 6)), TargetTransform(16, min_size=7))
    assert sample is None and stats.skipped_too_small == 1 and stats.yielded == 0
    sample, stats = _decode(Image.new("RGB", (8, 7)), TargetTransform(16, min_size=7))
    assert sample is not None and stats.upscaled == 1


def test_non_rgb_modes_become_rgb():
    sample, _ = _decode(Image.new("RGBA", (16, 16), (0, 0, 0, 0)), TargetTransform(16))
    assert torch.equal(sample["target"], torch.ones(3, 16, 16))  # transparent composited on white


def test_collate_stacks_targets_and_keeps_lists():
    src = Image.new("RGB", (5, 5))
    a = {"target": torch.zeros(3, 4, 4), "caption": "a", "source_images": [], "kind": "t2i", "key": "1"}
    b = {"target": torch.ones(3, 4, 4), "caption": "b", "source_images": [src], "kind": "edit", "key": "2"}
    batch = collate([a, b])
    assert batch["target"].shape == (2, 3, 4, 4) and batch["target"][1].eq(1).all()
    assert batch["caption"] == ["a", "b"] and batch["kind"] == ["t2i", "edit"] and batch["key"] == ["1", "2"]
    assert batch["source_images"][0] == [] and batch["source_images"][1][0] is src
    with pytest.raises(ValueError):
        collate([])
