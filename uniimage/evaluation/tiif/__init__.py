"""TIIF-Bench (Wei et al. 2025, arXiv 2506.02161): sampling in the official layout and yes/no judging.

The prompt and question files come from the official repository (A113N-W3I/TIIF-Bench, `data/`); we
ship none of them. `sample.py` builds the sampler job, `judge.py` asks an OpenAI-compatible vision model
the questions and `scoring.py` turns answers into scores. See docs/tiif.md.
"""

from .answers import parse_yes_no
from .files import load_prompt_dir, load_question_dir
from .judge import run_judge
from .scoring import summarize

__all__ = ["load_prompt_dir", "load_question_dir", "parse_yes_no", "run_judge", "summarize"]
