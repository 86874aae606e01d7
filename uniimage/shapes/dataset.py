"""`write_dataset`: render a ShapesEval split to disk in the training formats. Its command:

    python -m uniimage.cli.shapes_data --out data/shapes --split train --n-t2i 6000 --n-edit 2000 --n-vqa 2000

Layout under out_dir:
  {split}.jsonl            t2i and edit rows (edit rows carry source_images)
  {split}_vqa.jsonl        VQA rows
  images/{split}/...       PNGs the JSONL files point at (relative paths)
  wds/{split}-NNNNNN.tar   the same t2i + edit samples as webdataset shards
"""

from __future__ import annotations

from pathlib import Path

from .edits import edit_items, edit_metadata
from .heldout import HELDOUT_SEED, heldout_combinations
from .prompts import SPLITS, t2i_items
from .render import DEFAULT_IMAGE_SIZE, render_scene
from .vqa import vqa_items
from .writers import write_jsonl, write_wds_shards

FORMATS = ("jsonl", "wds")


def _t2i_samples(n, split, seed, heldout, image_size):
    for i, item in enumerate(t2i_items(n, split, seed, heldout)):
        meta = dict(item.metadata, task="t2i", split=split, scene=item.scene.to_dict())
        yield f"t2i_{i:06d}", {"image": render_scene(item.scene, image_size), "caption": item.prompt, "meta": meta}


def _edit_samples(n, split, seed, heldout, image_size, add_grid=None):
    for i, item in enumerate(edit_items(n, split, seed, heldout, add_grid)):
        meta = dict(edit_metadata(item), split=split)
        yield f"edit_{i:06d}", {
            "image": render_scene(item.target, image_size),
            "source_images": [render_scene(item.source, image_size)],
            "caption": item.instruction,
            "meta": meta,
        }


def write_dataset(
    out_dir,
    n_t2i: int,
    n_edit: int,
    n_vqa: int,
    split: str = "train",
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
    formats=FORMATS,
    shard_size: int = 1000,
    heldout_seed: int = HELDOUT_SEED,
    edit_add_grid: int | None = None,
) -> dict:
    """Returns {"jsonl": path?, "vqa_jsonl": path?, "wds": [paths], "counts": {...}}.
    edit_add_grid: an added object goes to the first free cell of that grid (`edits.place_added`), not a random spot."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; expected a subset of {FORMATS}")
    out_dir = Path(out_dir)
    image_dir = out_dir / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    heldout = heldout_combinations(heldout_seed)
    result: dict = {"counts": {"t2i": n_t2i, "edit": n_edit, "vqa": n_vqa}, "wds": []}

    samples, rows = [], []
    generators = (_t2i_samples(n_t2i, split, seed, heldout, image_size), _edit_samples(n_edit, split, seed, heldout, image_size, edit_add_grid))
    for generator in generators:
        for name, sample in generator:
            samples.append(sample)
            if "jsonl" in formats:
                rows.append(_save_row(out_dir, image_dir, name, sample))
    if "jsonl" in formats:
        result["jsonl"] = out_dir / f"{split}.jsonl"
        write_jsonl(result["jsonl"], rows)
        result["vqa_jsonl"] = out_dir / f"{split}_vqa.jsonl"
        write_jsonl(result["vqa_jsonl"], _vqa_rows(out_dir, image_dir, n_vqa, split, seed, heldout, image_size))
    if "wds" in formats:
        result["wds"] = write_wds_shards(out_dir / "wds", split, samples, shard_size)
    return result


def _save_row(out_dir: Path, image_dir: Path, name: str, sample: dict) -> dict:
    image_path = image_dir / f"{name}.png"
    sample["image"].save(image_path)
    row = {"image": image_path.relative_to(out_dir).as_posix(), "caption": sample["caption"], "meta": sample["meta"]}
    if "source_images" in sample:
        sources = []
        for k, source in enumerate(sample["source_images"]):
            source_path = image_dir / f"{name}_source{k}.png"
            source.save(source_path)
            sources.append(source_path.relative_to(out_dir).as_posix())
        row["source_images"] = sources
    return row


def _vqa_rows(out_dir, image_dir, n, split, seed, heldout, image_size) -> list[dict]:
    rows = []
    for i, item in enumerate(vqa_items(n, split, seed, heldout)):
        image_path = image_dir / f"vqa_{i:06d}.png"
        render_scene(item.scene, image_size).save(image_path)
        meta = {"task": "vqa", "tag": item.kind, "split": split, "scene": item.scene.to_dict()}
        rows.append({"image": image_path.relative_to(out_dir).as_posix(), "question": item.question, "answer": item.answer, "meta": meta})
    return rows
