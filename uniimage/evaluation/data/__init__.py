"""Benchmark prompt sets shipped as package data (read with importlib.resources).

- geneval_metadata.jsonl: the 553 GenEval prompts (djghosh13/geneval, MIT), one JSON object a line.
- dpg_prompts.jsonl: the 1,065 DPG-Bench prompts (TencentQQGYLab/ELLA, Apache-2.0), `{"id", "prompt"}` a line.
"""
