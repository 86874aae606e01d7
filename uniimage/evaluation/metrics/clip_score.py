"""CLIP score: 100 * max(cos(image, prompt), 0), averaged over images (the torchmetrics definition).

Images pair with prompts by key, the same keys our samplers name outputs with: a prompt with key K
(its `id`, else its 5-digit index) owns `K.png`, the images in `K/`, and `K/samples/` (GenEval layout)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ...utils.images import load_image
from ..prompt_files import load_prompt_file
from ..tasks import Task
from ...errors import ImageFolderError
from .image_folders import IMAGE_SUFFIXES, is_image_file


@dataclass
class ClipScoreResult:
    clip_score: float
    images: int
    prompts_scored: int
    prompts_without_images: int
    model: str
    per_prompt: dict[str, float] = field(default_factory=dict)

    def as_dict(self, per_prompt: bool = False) -> dict:
        out = asdict(self)
        if not per_prompt:
            del out["per_prompt"]
        return out


def images_for_key(root: Path, key: str) -> list[Path]:
    direct = [root / f"{key}{suffix}" for suffix in sorted(IMAGE_SUFFIXES)]
    found = [p for p in direct if p.is_file()]
    for folder in (root / key, root / key / "samples"):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if is_image_file(p))
    return found


def pair_images(images_dir: Path, tasks: list[Task]) -> list[tuple[str, str, list[Path]]]:
    """(key, prompt, image paths) for every prompt; raises if the folder holds no matching image at all."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise ImageFolderError(f"image folder not found: {images_dir}")
    pairs = [(t.key, t.prompt, images_for_key(images_dir, t.key)) for t in tasks]
    if not any(paths for _, _, paths in pairs):
        raise ImageFolderError(
            f"no image under {images_dir} matches a prompt (expected <key>.png, <key>/*.png "
            "or <key>/samples/*.png, key = the prompt's id or 5-digit index)"
        )
    return pairs


def _scores(clip, prompt: str, paths: list[Path]) -> torch.Tensor:
    img = torch.nn.functional.normalize(clip.encode_images([load_image(p) for p in paths]), dim=-1)
    txt = torch.nn.functional.normalize(clip.encode_texts([prompt]), dim=-1)
    return (100.0 * (img @ txt.T).squeeze(-1)).clamp(min=0)


def compute_clip_score(images_dir, prompts, clip, progress: bool = False) -> ClipScoreResult:
    """`prompts`: a prompt file (txt / jsonl) or a list of Tasks (e.g. a shipped benchmark)."""
    tasks = load_prompt_file(prompts) if isinstance(prompts, (str, Path)) else prompts
    pairs = pair_images(Path(images_dir), tasks)
    per_prompt, all_scores = {}, []
    for key, prompt, paths in tqdm(pairs, desc="clip-score", disable=not progress):
        if paths:
            scores = _scores(clip, prompt, paths)
            per_prompt[key] = float(scores.mean())
            all_scores.append(scores)
    flat = torch.cat(all_scores)
    return ClipScoreResult(
        clip_score=float(flat.mean()), images=len(flat), prompts_scored=len(per_prompt),
        prompts_without_images=len(pairs) - len(per_prompt), model=getattr(clip, "name", type(clip).__name__),
        per_prompt=per_prompt,
    )
