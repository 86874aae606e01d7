"""Stage 0 of the demo model: the pretrained bases the published recipe downloads, made here at toy
scale on ShapesEval training data — a tiny Qwen2.5-VL (own tokenizer, trained as a small VLM), a tiny
DC-AE (trained as an autoencoder) and a randomly initialised SANA transformer + scheduler config.

    python -m uniimage.cli.demo_stage0 all --out build/demo-base

See README.md in this folder for the sizes, commands and measured figures.
"""
