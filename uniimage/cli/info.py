"""`uniimage info MODEL` and `uniimage download ID --to DIR`."""

from __future__ import annotations

import json
from pathlib import Path

# What `info` says about each shipped preset, written by `python -m uniimage.cli.info` from the meta-device
# model (tests/cli keep it equal to a fresh computation): `info PRESET` answers without importing torch.
SUMMARY_FILE = Path(__file__).resolve().parents[1] / "presets" / "info.json"


def add_parser(sub):
    p = sub.add_parser("info", help="components, parameter counts, ladder mapping of a model")
    p.add_argument("model", help="checkpoint folder or preset name (read without loading weights)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run_info)

    p = sub.add_parser("download", help="download a checkpoint from the hub (online machines)")
    p.add_argument("repo_id")
    p.add_argument("--to", required=True, help="target folder")
    p.set_defaults(func=run_download)


def empty_model(ref: str):
    """The model's structure on the meta device: configs are read, no weights are loaded or allocated."""
    from ..checkpoint.components import load_components
    from ..checkpoint.pretrained import checkpoint_folder, read_config, search_dirs
    from ..models.uniimage import UniImageModel
    from ..presets import preset_folder

    folder = preset_folder(ref) or checkpoint_folder(ref)
    config = read_config(folder)
    components = load_components(config, search_dirs(folder))
    model = UniImageModel.from_configs(config, components.mllm_config, components.transformer_config,
                                       components.vae_config, empty=True)
    return model, components, folder


def model_info(ref: str, cached: bool = True) -> dict:
    if cached and not Path(ref).exists():
        from ..presets import preset_folder

        folder = preset_folder(ref)
        summary = json.loads(SUMMARY_FILE.read_text()).get(ref) if SUMMARY_FILE.is_file() and folder else None
        if summary is not None:
            return {"model": ref, "folder": str(folder), **summary}
    from ..models.summary import parameter_counts

    model, components, folder = empty_model(ref)
    cfg = model.config
    text = components.mllm_config.text_config
    return {
        "model": ref,
        "folder": str(folder),
        "mllm": {"layers": model.num_mllm_layers, "hidden": text.hidden_size, "vocab": model.vocab_size},
        "transformer": {"blocks": model.transformer.num_blocks, "caption_channels": model.transformer.config.caption_channels},
        "latent": {"channels": cfg.in_channels, "side": cfg.input_size, "image_size": cfg.image_size},
        "num_queries": cfg.num_metaqueries,
        "ladder": {"mode": cfg.ladder, "block_to_hidden_state": model.ladder},
        "dtype": str(text.dtype) if getattr(text, "dtype", None) else "float32",
        "parameters": parameter_counts(model),
    }


def run_info(args):
    info = model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model        {info['model']}  ({info['folder']})")
    print(f"MLLM         Qwen2.5-VL, {info['mllm']['layers']} layers x {info['mllm']['hidden']}, vocabulary {info['mllm']['vocab']}")
    print(f"generator    SANA, {info['transformer']['blocks']} blocks, caption channels {info['transformer']['caption_channels']}")
    lat = info["latent"]
    print(f"latents      {lat['channels']} x {lat['side']} x {lat['side']}  ->  {lat['image_size']} px images")
    print(f"queries      {info['num_queries']}")
    print(f"ladder       {info['ladder']['mode']}: block k <- hidden state {info['ladder']['block_to_hidden_state']}")
    print("parameters")
    for part, n in info["parameters"].items():
        print(f"  {part:12s} {n:>15,d}")
    return 0


def run_download(args):
    from ..checkpoint.components import download

    path = download(args.repo_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.jinja", "*/*.json"], local_dir=args.to)
    print(path)
    return 0


def write_preset_summaries() -> None:
    from ..presets import PRESET_DIR

    names = sorted(p.name for p in PRESET_DIR.iterdir() if (p / "config.json").is_file())
    summary = {}
    for name in names:
        info = json.loads(json.dumps(model_info(name, cached=False), default=str))
        summary[name] = {k: v for k, v in info.items() if k not in ("model", "folder")}
    SUMMARY_FILE.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {SUMMARY_FILE} ({', '.join(names)})")


if __name__ == "__main__":
    write_preset_summaries()
