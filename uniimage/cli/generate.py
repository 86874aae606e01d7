"""`uniimage generate`, `uniimage edit`, `uniimage describe`: the pipeline from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..utils.dtypes import DTYPE_NAMES, torch_dtype

DEFAULT_MODEL = "demo"


def add_model_args(p: argparse.ArgumentParser):
    p.add_argument("--model", default=None, help=f"checkpoint folder, hub id or preset (default: {DEFAULT_MODEL}, else tiny)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_NAMES))


def add_sampling_args(p: argparse.ArgumentParser):
    p.add_argument("-n", "--num-images", type=int, default=1, help="images per prompt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--guidance", type=float, default=4.5)
    p.add_argument("--negative", default="", help="negative prompt")
    p.add_argument("--sampler", default="dpm", choices=["dpm", "euler"])
    p.add_argument("-o", "--output", default="outputs", help="a .png file (one image) or a folder")


def add_parser(sub):
    p = sub.add_parser("generate", help="text to image")
    p.add_argument("prompt", nargs="+", help="one or more prompts (quote each)")
    add_sampling_args(p)
    add_model_args(p)
    p.set_defaults(func=run_generate)

    p = sub.add_parser("edit", help="image(s) + instruction to image")
    p.add_argument("prompt", help="the instruction")
    p.add_argument("--image", action="append", required=True, help="input image (repeat for several)")
    p.add_argument("--image-guidance", type=float, default=1.5)
    add_sampling_args(p)
    add_model_args(p)
    p.set_defaults(func=run_edit)

    p = sub.add_parser("describe", help="answer a question about an image (streams the answer)")
    p.add_argument("image")
    p.add_argument("question", nargs="?", default="Describe this image.")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--top-p", type=float, default=1.0)
    add_model_args(p)
    p.set_defaults(func=run_describe)


def default_model() -> str:
    from ..presets import preset_folder

    folder = preset_folder(DEFAULT_MODEL)
    return DEFAULT_MODEL if folder is not None and any(folder.glob("*.safetensors")) else "tiny"


def load_pipeline(args, sampler: str = "dpm"):
    from ..pipelines import UniImagePipeline
    from ..pipelines.schedulers import load_sampler

    args.model = args.model or default_model()
    pipe = UniImagePipeline.from_pretrained(args.model, torch_dtype=torch_dtype(args.dtype))
    try:
        pipe.to(args.device)
    except (RuntimeError, AssertionError) as e:
        raise InputError(f"device {args.device!r} is not usable here: {e}") from e
    if sampler != "dpm":
        pipe.scheduler = load_sampler(pipe.sources.scheduler_dir, sampler)
    return pipe


def output_paths(output: str, count: int) -> list[Path]:
    out = Path(output)
    if out.suffix.lower() == ".png":
        if count != 1:
            raise InputError(f"-o {output} names one file but {count} images will be made; give a folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        return [out]
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {output} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return [out / f"{i:04d}.png" for i in range(count)]


def save_images(images, paths, metadata: list[dict]):
    from PIL.PngImagePlugin import PngInfo

    for image, path, meta in zip(images, paths, metadata):
        info = PngInfo()
        for k, v in meta.items():
            info.add_text(k, str(v))
        image.save(path, pnginfo=info)
        print(path)


def _generate(args, prompts, image=None, image_guidance=1.5):
    import torch

    pipe = load_pipeline(args, args.sampler)
    paths = output_paths(args.output, len(prompts) * args.num_images)
    out = pipe(prompts, image=image, negative_prompt=args.negative, guidance_scale=args.guidance,
               image_guidance_scale=image_guidance, num_inference_steps=args.steps,
               num_images_per_prompt=args.num_images, generator=torch.Generator().manual_seed(args.seed))
    meta = {"negative_prompt": args.negative, "seed": args.seed, "steps": args.steps, "guidance": args.guidance,
            "sampler": args.sampler, "model": args.model, "software": "uniimage"}
    if image is not None:
        meta["image_guidance"] = image_guidance
    per_image = [dict(prompt=p, index=i, **meta) for p in prompts for i in range(args.num_images)]
    save_images(out.images, paths, per_image)
    return 0


def run_generate(args):
    return _generate(args, args.prompt)


def run_edit(args):
    from ..utils.images import load_image

    images = [load_image(p) for p in args.image]
    return _generate(args, [args.prompt], image=[images], image_guidance=args.image_guidance)


def run_describe(args):
    from ..utils.images import load_image

    image = load_image(args.image)
    pipe = load_pipeline(args)
    sample = args.temperature > 0
    for piece in pipe.understand_stream(image, args.question, max_new_tokens=args.max_new_tokens, do_sample=sample,
                                        temperature=args.temperature or 1.0, top_p=args.top_p):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
