"""Known import-time noise of optional libraries, silenced for the command line.

With torchao installed (`uniimage[fp8]`, `uniimage[train-lowmem]`), diffusers imports it on its own import. On a
CPU-only torch torchao then logs that its CUDA kernels cannot load, torch logs two deprecation lines about
torchao's enums, and diffusers logs that torchao moved the tensor types it allow-lists for torchao-quantised
checkpoints (which uniimage never loads). None of it concerns the command being run; real errors still show.
"""

from __future__ import annotations

import logging

NOISY_LOGGERS = ("torchao", "torch.utils._pytree", "diffusers.quantizers.torchao.torchao_quantizer")


def quiet_optional_import_noise() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
