"""`uniimage generate`, `uniimage edit`, `uniimage describe`: the pipeline from the shell.

Everything a user can get wrong (numbers, NaN included, prompts, sizes, files, output paths) is checked
before the model loads, in one line of ours; torch and the model are imported only after that.
"""

from __future__ import annotations

import argparse
import sys

from ..utils.devices import move_to
from ..utils.dtypes import DTYPE_NAMES, torch_dtype
from . import checks, outputs

DEFAULT_MODEL = "demo"


def add_model_args(p: argparse.ArgumentParser):
    p.add_argument("--model", default=None,
                   help=f"checkpoint folder, hub id or preset; unset: {DEFAULT_MODEL} (the shipped model), else tiny")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps ...")
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_NAMES), help="weight dtype")


COMPILE_MODES = ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


def add_compile_args(p: argparse.ArgumentParser):
    p.add_argument("--compile", nargs="?", const="default", default=None, choices=COMPILE_MODES, metavar="MODE",
                   help="torch.compile the DiT block and the VAE decoder (slow first call); MODE default, or "
                        "reduce-overhead for CUDA graphs (CUDA only)")
    p.add_argument("--fp8", action="store_true",
                   help="float8 DiT linears (torchao; Ada/Hopper GPUs), compiled; implies --compile")


def add_sampling_args(p: argparse.ArgumentParser):
    p.add_argument("-n", "--num-images", type=int, default=1, help="images per prompt")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same images)")
    p.add_argument("--steps", type=int, default=30, help="sampling steps (more: finer, slower)")
    p.add_argument("--guidance", type=float, default=4.5, help="text guidance scale (0 = unguided)")
    p.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="guide only at noise levels sigma in [LO, HI] (unset: the model's default; 0 1: every step)")
    p.add_argument("--negative", default="", help="negative prompt: what to steer away from")
    p.add_argument("--sampler", default="dpm", choices=["dpm", "euler"], help="DPM-Solver++ (published) or flow Euler")
    p.add_argument("--size", default=None, help="WIDTHxHEIGHT, e.g. 512x512 (unset: the model's native size)")
    p.add_argument("--width", type=int, default=None, help="image width in px (unset: native)")
    p.add_argument("--height", type=int, default=None, help="image height in px (unset: native)")
    p.add_argument("-o", "--output", default="outputs",
                   help="a .png/.jpg/.webp file (one image) or a folder (NNNN-prompt-slug.png + metadata.jsonl)")
    add_compile_args(p)


def add_parser(sub):
    p = sub.add_parser("generate", help="text to image")
    p.add_argument("prompt", nargs="+", help="one or more prompts (quote each)")
    add_sampling_args(p)
    add_model_args(p)
    p.set_defaults(func=run_generate)

    p = sub.add_parser("edit", help="image(s) + instruction to image")
    p.add_argument("prompt", help="the instruction")
    p.add_argument("--image", action="append", required=True, help="input image (repeat for several)")
    p.add_argument("--image-guidance", type=float, default=1.5, help="how closely to keep the input image(s)")
    add_sampling_args(p)
    add_model_args(p)
    p.set_defaults(func=run_edit)

    p = sub.add_parser("describe", help="answer a question about an image (streams the answer)")
    p.add_argument("image", help="image file")
    p.add_argument("question", nargs="?", default="Describe this image.", help="what to ask")
    p.add_argument("--max-new-tokens", type=int, default=256, help="longest answer, in tokens")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature, 0-2 (0 = greedy)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass, (0, 1]")
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
    move_to(pipe, args.device)
    if sampler != "dpm":
        pipe.scheduler = load_sampler(pipe.sources.scheduler_dir, sampler)
    if getattr(args, "compile", None) or getattr(args, "fp8", False):
        pipe.compile(mode=args.compile or "default", fp8=args.fp8)
    return pipe


def fit_prompts(pipe, prompts: list[str], command: str) -> list[str]:
    """Prompts over the model's text budget are cut here, with one line of ours (not the tokenizer's warning)."""
    processor = pipe.processor
    tok, budget = processor.tokenizer, processor.max_text_tokens
    fitted = []
    for i, prompt in enumerate(prompts):
        ids = tok(prompt, add_special_tokens=False, verbose=False)["input_ids"]
        if len(ids) > budget:
            which = f"prompt {i + 1}" if len(prompts) > 1 else "the prompt"
            print(f"uniimage {command}: note: {which} is {len(ids)} tokens; the model reads the first {budget}",
                  file=sys.stderr)
            prompt = tok.decode(ids[:budget])
        fitted.append(prompt)
    return fitted


def _generate(args, prompts, command: str, image_paths=None):
    checks.prompts(prompts, "prompt" if command == "generate" else "instruction")
    checks.sampling(args)
    height, width = checks.size(args)
    checks.model_ref(args.model)
    checks.compile_flags(args)
    paths, jsonl = outputs.plan(args.output, prompts, args.num_images)
    outputs.check_writable(paths + ([jsonl] if jsonl else []))
    image = None
    if image_paths is not None:
        from ..utils.images import load_image

        image = [[load_image(p) for p in image_paths]]  # unreadable files fail here, before the model loads

    import torch

    pipe = load_pipeline(args, args.sampler)
    out = pipe(fit_prompts(pipe, prompts, command), image=image, negative_prompt=args.negative,
               guidance_scale=args.guidance, image_guidance_scale=getattr(args, "image_guidance", 1.5),
               num_inference_steps=args.steps, num_images_per_prompt=args.num_images, height=height, width=width,
               generator=torch.Generator().manual_seed(args.seed), guidance_interval=args.guidance_interval)
    interval = pipe.resolve_guidance_interval(args.guidance_interval)
    meta = {"negative_prompt": args.negative, "seed": args.seed, "steps": args.steps, "guidance": args.guidance,
            "guidance_interval": list(interval) if interval else "every step",
            "sampler": args.sampler, "model": args.model, "width": out.images[0].width,
            "height": out.images[0].height, "software": "uniimage"}
    if image_paths is not None:
        meta["image_guidance"] = args.image_guidance
        meta["images"] = [str(p) for p in image_paths]
    per_image = [dict(prompt=p, index=i, **meta) for p in prompts for i in range(args.num_images)]
    outputs.save(out.images, paths, per_image, jsonl)
    return 0


def run_generate(args):
    return _generate(args, args.prompt, "generate")


def run_edit(args):
    return _generate(args, [args.prompt], "edit", image_paths=args.image)


def run_describe(args):
    from ..utils.images import load_image

    checks.answering(args)
    checks.model_ref(args.model)
    image = load_image(args.image)
    pipe = load_pipeline(args)
    sample = args.temperature > 0
    for piece in pipe.understand_stream(image, args.question, max_new_tokens=args.max_new_tokens, do_sample=sample,
                                        temperature=args.temperature or 1.0, top_p=args.top_p):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
