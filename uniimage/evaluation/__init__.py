"""Benchmark samplers (GenEval, DPG-Bench, TIIF-Bench, editing sets, any prompt list) and image metrics (FID, CLIP score).

The samplers only write images in the folder layouts the official scorers read; scoring itself runs in
those projects (see `scorers.py` for the exact commands), except TIIF-Bench's yes/no judging, which
`tiif/` runs against any OpenAI-compatible vision model. `metrics/` computes FID and CLIP score here.
"""

from .tasks import Task
from .prompt_sets import load_dpg, load_geneval
from .prompt_files import load_edit_file, load_prompt_file
from .sampler import SamplerSettings, run_sampler

__all__ = [
    "Task",
    "load_geneval",
    "load_dpg",
    "load_prompt_file",
    "load_edit_file",
    "SamplerSettings",
    "run_sampler",
]
