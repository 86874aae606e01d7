"""Writes the config-only presets under uniimage/presets/: `tiny` (tests), `small` (CPU timing) and
`tbac-uniimage-3b` (the published sizes, for meta-device checks). Run from the repo root:

    python scripts/build_presets.py

Tiny and small share our own byte-level BPE tokenizer (Qwen's special tokens and chat format), trained
here on the benchmark prompts, since Qwen's 151k-token tokenizer cannot be shipped or downloaded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import Qwen2_5_VLConfig

from uniimage.demo.tokenizer import SPECIAL_TOKENS, train_bpe_tokenizer

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "uniimage" / "presets"
SHARED = ROOT.parent / "shared" / "benchmarks"

SHAPE_WORDS = ("a an the one two three four five six seven eight nine ten zero red green blue yellow purple orange "
               "white black gray grey pink brown circle circles square squares triangle triangles star stars left "
               "right above below of to on in and with is are there how many what colour color shape make add "
               "remove move it photo image picture describe this yes no")


def corpus() -> list[str]:
    lines = [SHAPE_WORDS] * 50
    for name in ("geneval/evaluation_metadata.jsonl", "dpg/prompts.jsonl"):
        path = SHARED / name
        if path.is_file():
            lines += [json.loads(line)["prompt"] for line in path.read_text().splitlines() if line.strip()]
    return lines


def build_tokenizer(out: Path, ordinary_vocab: int = 1000):
    fast = train_bpe_tokenizer(corpus(), ordinary_vocab)
    fast.save_pretrained(out)
    return fast


def stand_in_tokenizer(src: Path, out: Path, first_special_id: int = 151643):
    """Our BPE with Qwen's special tokens moved to Qwen's own ids (151643...), so a config with the
    published token ids (image 151655, vision start / end 151652 / 151653) runs unchanged on random weights.
    For timing only: real checkpoints bring Qwen's tokenizer (a prompt becomes fewer, longer tokens)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(src / name, out / name)
    data = json.loads((src / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    # Unreachable placeholders (no merge makes them) fill the ids up to Qwen's first special token, so
    # ids stay contiguous like Qwen's own (len(tokenizer) = last special id + 1).
    vocab.update({f"<u{i}>": i for i in range(len(vocab), first_special_id)})
    for token in data["added_tokens"]:
        token["id"] = first_special_id + SPECIAL_TOKENS.index(token["content"])
        vocab[token["content"]] = token["id"]  # in the model's vocab, or loading renumbers them
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))  # compact: 150k entries


def image_processor_config(min_pixels: int, max_pixels: int) -> dict:
    return {"image_processor_type": "Qwen2VLImageProcessor", "do_convert_rgb": True, "do_normalize": True,
            "do_rescale": True, "do_resize": True, "rescale_factor": 1 / 255, "resample": 3,
            "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
            "min_pixels": min_pixels, "max_pixels": max_pixels, "patch_size": 14, "merge_size": 2,
            "temporal_patch_size": 2, "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels}}


def mllm_config(tok, vocab_size: int, text: dict, vision: dict) -> Qwen2_5_VLConfig:
    # mrope sections split the rotary half of a head: they must sum to head_dim / 2.
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    assert sum(text["rope_scaling"]["mrope_section"]) == head_dim // 2, "mrope sections must sum to head_dim / 2"
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return Qwen2_5_VLConfig(
        text_config={"vocab_size": vocab_size, "rms_norm_eps": 1e-6, "rope_theta": 1e6, "max_position_embeddings": 32768,
                     "hidden_act": "silu", "tie_word_embeddings": True, "bos_token_id": ids["<|endoftext|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"], **text},
        vision_config={"in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "window_size": 112, "hidden_act": "silu", "tokens_per_second": 2, **vision},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def write_json(path: Path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def dpm_scheduler() -> dict:
    # SANA's sampler: diffusers' DPM-Solver++ defaults with flow sigmas, flow prediction, shift 3.
    return {"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver++", "solver_order": 2,
            "solver_type": "midpoint", "prediction_type": "flow_prediction", "use_flow_sigmas": True, "flow_shift": 3.0,
            "final_sigmas_type": "zero", "lower_order_final": True, "timestep_spacing": "linspace",
            "num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}


def sana_transformer(layers, heads, head_dim, cross_heads, cross_head_dim, caption_channels, channels, sample_size):
    return {"_class_name": "SanaTransformer2DModel", "in_channels": channels, "out_channels": channels,
            "num_attention_heads": heads, "attention_head_dim": head_dim, "num_layers": layers,
            "num_cross_attention_heads": cross_heads, "cross_attention_head_dim": cross_head_dim,
            "cross_attention_dim": cross_heads * cross_head_dim, "caption_channels": caption_channels,
            "mlp_ratio": 2.5, "dropout": 0.0, "attention_bias": False, "sample_size": sample_size, "patch_size": 1,
            "norm_elementwise_affine": False, "norm_eps": 1e-6, "interpolation_scale": None,
            "guidance_embeds": False, "qk_norm": None, "timestep_scale": 1.0}


def dc_ae(channels, block_out, layers, block_types, qkv):
    return {"_class_name": "AutoencoderDC", "in_channels": 3, "latent_channels": channels, "attention_head_dim": 8 if block_out[0] < 32 else 32,
            "encoder_block_types": block_types, "decoder_block_types": block_types,
            "encoder_block_out_channels": block_out, "decoder_block_out_channels": block_out,
            "encoder_layers_per_block": layers, "decoder_layers_per_block": layers,
            "encoder_qkv_multiscales": qkv, "decoder_qkv_multiscales": qkv,
            "upsample_block_type": "interpolate", "downsample_block_type": "Conv", "decoder_norm_types": "rms_norm",
            "decoder_act_fns": "silu", "scaling_factor": 0.41407}


def uniimage_config(num_queries, input_size, channels, f, image_pixels) -> dict:
    return {"model_type": "tbacuniimage", "architectures": ["TBACUniImagePipeline"], "mllm_id": "mllm",
            "diffusion_model_id": "sana", "vae_id": "sana", "scheduler_id": "sana", "noise_scheduler_id": "sana",
            "num_metaqueries": num_queries, "input_size": input_size, "in_channels": channels, "vae_downsample_f": f,
            "max_input_text_tokens": 256, "loss_type": "flow", "ladder": "ladder", "image_pixels": image_pixels,
            "system_prompt": "You will be given an image or its caption. Please describe the content of the image "
                             "in detail in your own words."}


def write_preset(name, tok_dir, mllm, ipc, transformer, vae, config):
    out = PRESETS / name
    shutil.rmtree(out, ignore_errors=True)
    if tok_dir is not None:
        shutil.copytree(tok_dir, out / "mllm")
        write_json(out / "mllm" / "preprocessor_config.json", ipc)
    mllm.save_pretrained(out / "mllm")
    write_json(out / "sana" / "transformer" / "config.json", transformer)
    write_json(out / "sana" / "vae" / "config.json", vae)
    write_json(out / "sana" / "scheduler" / "scheduler_config.json", dpm_scheduler())
    write_json(out / "config.json", config)


def main():
    tok_dir = ROOT / "build" / "tokenizer"
    tok = build_tokenizer(tok_dir)
    vocab = len(tok)  # ordinary + special: the embedding size; fillers are then not needed
    resblocks = ["ResBlock", "ResBlock", "EfficientViTBlock"]
    write_preset(
        "tiny", tok_dir,
        mllm_config(tok, vocab, dict(hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=4,
                                     num_key_value_heads=2, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
                    dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, fullatt_block_indexes=[1])),
        image_processor_config(3136, 64 * 28 * 28),
        sana_transformer(4, 2, 16, 2, 16, 48, 8, 8),
        dc_ae(8, [8, 16, 32], [1, 1, 1], resblocks, [[], [], [5]]),
        uniimage_config(16, 8, 8, 4, 16 * 28 * 28),
    )
    six = ["ResBlock", "ResBlock", "ResBlock", "EfficientViTBlock", "EfficientViTBlock", "EfficientViTBlock"]
    write_preset(
        "small", tok_dir,
        mllm_config(tok, vocab, dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=14, num_attention_heads=14,
                                     num_key_value_heads=2, rope_scaling={"type": "mrope", "mrope_section": [8, 12, 12]}),
                    dict(depth=8, hidden_size=640, intermediate_size=1728, num_heads=10, out_hidden_size=896, fullatt_block_indexes=[3, 7])),
        image_processor_config(3136, 256 * 28 * 28),
        sana_transformer(12, 16, 72, 16, 72, 2304, 32, 16),
        dc_ae(32, [64, 128, 256, 256, 512, 512], [1, 1, 1, 2, 2, 2], six, [[], [], [], [5], [5], [5]]),
        uniimage_config(64, 16, 32, 32, 256 * 28 * 28),
    )
    # The published sizes (REFERENCE.md section 1): meta-device checks, hub aliases and random-weight timing
    # (with a stand-in tokenizer whose special tokens sit at Qwen's ids; Qwen2.5-VL's own image processor limits).
    qwen3b = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                         num_attention_heads=16, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1e6,
                         max_position_embeddings=128000, hidden_act="silu", tie_word_embeddings=True,
                         rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}, bos_token_id=151643,
                         eos_token_id=151645, pad_token_id=151643, sliding_window=32768, max_window_layers=70),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu", in_channels=3, tokens_per_second=2),
        image_token_id=151655, video_token_id=151656, vision_start_token_id=151652, vision_end_token_id=151653,
        tie_word_embeddings=True,
    )
    published = uniimage_config(64, 16, 32, 32, 256 * 28 * 28)
    published.update(mllm_id="mllm", diffusion_model_id="sana", vae_id="sana", scheduler_id="sana", noise_scheduler_id="sana",
                     hub_mllm_id="Qwen/Qwen2.5-VL-3B-Instruct",
                     hub_diffusion_model_id="Efficient-Large-Model/Sana_1600M_512px_diffusers")
    write_preset(
        "tbac-uniimage-3b", None, qwen3b, None,
        sana_transformer(20, 70, 32, 20, 112, 2304, 32, 16),
        dc_ae(32, [128, 256, 512, 512, 1024, 1024], [2, 2, 2, 3, 3, 3], six, [[], [], [], [5], [5], [5]]),
        published,
    )
    stand_in_tokenizer(tok_dir, PRESETS / "tbac-uniimage-3b" / "mllm")
    write_json(PRESETS / "tbac-uniimage-3b" / "mllm" / "preprocessor_config.json", image_processor_config(3136, 12845056))
    # The real DC-AE decoder has 3 layers per stage (REFERENCE.md section 1).
    vae_path = PRESETS / "tbac-uniimage-3b" / "sana" / "vae" / "config.json"
    vae = json.loads(vae_path.read_text())
    vae["decoder_layers_per_block"] = [3, 3, 3, 3, 3, 3]
    write_json(vae_path, vae)
    print("presets written:", ", ".join(p.name for p in sorted(PRESETS.iterdir()) if p.is_dir()))


if __name__ == "__main__":
    main()
