"""CLIP encoders for the CLIP score. Any object with `encode_images(list[PIL]) -> (N, D)` and
`encode_texts(list[str]) -> (N, D)` works; two loaders are provided:

- a transformers CLIPModel from a local folder or hub id (default: openai/clip-vit-large-patch14, the
  model torchmetrics' CLIPScore defaults to), read from the local cache first;
- `open_clip:ARCH[:PRETRAINED]` through the open_clip package, when it is installed.
"""

from __future__ import annotations

import torch

from ...errors import WeightsUnavailableError

DEFAULT_CLIP = "openai/clip-vit-large-patch14"


class HFClip:
    def __init__(self, model, tokenizer, image_processor, device: str = "cpu", name: str = ""):
        self.model = model.eval().to(device)
        self.tokenizer, self.image_processor, self.device, self.name = tokenizer, image_processor, device, name

    @torch.inference_mode()
    def encode_images(self, images) -> torch.Tensor:
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"].to(self.device)
        return _as_tensor(self.model.get_image_features(pixel_values=pixels))

    @torch.inference_mode()
    def encode_texts(self, texts) -> torch.Tensor:
        # CLIP's text tower has a fixed context (77 tokens); long prompts (DPG) are truncated, as in torchmetrics.
        tokens = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(self.device)
        return _as_tensor(self.model.get_text_features(**tokens))


def _as_tensor(out) -> torch.Tensor:
    # Newer transformers may return a model output object rather than the bare embedding tensor.
    if isinstance(out, torch.Tensor):
        return out.float()
    return out.pooler_output.float()


def _from_pretrained(cls, name: str, local_only: bool):
    return cls.from_pretrained(name, local_files_only=local_only)


def load_hf_clip(name: str, device: str = "cpu") -> HFClip:
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    parts = (CLIPModel, AutoTokenizer, AutoImageProcessor)
    last_error = None
    # Cache first: with no network a hub lookup can only fail, and slowly.
    for local_only in (True, False):
        try:
            model, tok, proc = (_from_pretrained(cls, name, local_only) for cls in parts)
            return HFClip(model, tok, proc, device, name)
        except (OSError, ValueError) as e:
            last_error = e
    raise WeightsUnavailableError(
        f"CLIP model {name!r} is neither a saved CLIPModel folder nor in the local cache, and cannot be downloaded "
        f"here ({type(last_error).__name__}); pass --clip-model PATH to a folder saved with save_pretrained "
        "(model, tokenizer and image processor)"
    )


class OpenClip:
    def __init__(self, model, preprocess, tokenizer, device: str, name: str):
        self.model, self.preprocess, self.tokenizer, self.device, self.name = model.eval().to(device), preprocess, \
            tokenizer, device, name

    @torch.inference_mode()
    def encode_images(self, images) -> torch.Tensor:
        batch = torch.stack([self.preprocess(im) for im in images]).to(self.device)
        return self.model.encode_image(batch).float()

    @torch.inference_mode()
    def encode_texts(self, texts) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(texts).to(self.device)).float()


def load_open_clip(spec: str, device: str = "cpu") -> OpenClip:
    """'open_clip:ViT-L-14:openai' or 'open_clip:ViT-B-32:/path/to/weights.bin'."""
    _, arch, *rest = spec.split(":", 2)
    try:
        import open_clip
    except ImportError as e:
        raise WeightsUnavailableError(f"{spec} needs the open_clip package (pip install open-clip-torch)") from e
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=rest[0] if rest else None)
    except (OSError, RuntimeError) as e:
        raise WeightsUnavailableError(f"cannot load {spec} offline ({e}); give a local weights file") from e
    return OpenClip(model, preprocess, open_clip.get_tokenizer(arch), device, spec)


def load_clip(spec: str, device: str = "cpu"):
    if spec.startswith("open_clip:"):
        return load_open_clip(spec, device)
    return load_hf_clip(spec, device)
