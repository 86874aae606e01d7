"""The DPG-Bench grid: up to 4 square tiles in the order the scorer crops them
(top-left, top-right, bottom-left, bottom-right), each `size` px."""

from __future__ import annotations

from PIL import Image

from ..errors import InputError

# (column, row) of tile k, matching compute_dpg_bench.py's crop boxes.
_CELLS = [(0, 0), (1, 0), (0, 1), (1, 1)]


def dpg_grid(images: list[Image.Image], size: int) -> Image.Image:
    """One image stays R x R; 2 to 4 images make a 2R x 2R canvas (unused cells stay black)."""
    if not 1 <= len(images) <= len(_CELLS):
        raise InputError(f"DPG-Bench grids hold 1 to 4 images, got {len(images)}")
    side = size if len(images) == 1 else 2 * size
    canvas = Image.new("RGB", (side, side))
    for image, (col, row) in zip(images, _CELLS):
        tile = image.convert("RGB")
        if tile.size != (size, size):
            # The scorer crops at fixed offsets, so every tile must be exactly R x R.
            tile = tile.resize((size, size), Image.Resampling.LANCZOS)
        canvas.paste(tile, (col * size, row * size))
    return canvas


def contact_sheet(images: list[Image.Image]) -> Image.Image:
    """A near-square grid of all samples (GenEval's optional grid.png, for a human to look at)."""
    cols = max(1, round(len(images) ** 0.5))
    rows = -(-len(images) // cols)
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * w, rows * h))
    for k, image in enumerate(images):
        sheet.paste(image.convert("RGB").resize((w, h)), ((k % cols) * w, (k // cols) * h))
    return sheet
