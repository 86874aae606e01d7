"""Run by the multi-process test under torchrun: train a few tiny steps, save the trainable weights.

    torchrun --nproc-per-node 2 training_ddp_worker.py OUTPUT_DIR BATCH_PER_PROCESS STEPS DATA_JSONL [OVERRIDES]

OVERRIDES: dotted key=value pairs joined by commas (e.g. "condition_cache=10,freeze.train_queries=false").
"""

import os
import sys

import torch

torch.set_num_threads(1)

from safetensors.torch import save_file  # noqa: E402

from test_training_ddp import worker_config  # noqa: E402
from training_helpers import trainable  # noqa: E402

from uniimage.training import Trainer  # noqa: E402


def main():
    out, batch, steps, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    overrides = sys.argv[5].split(",") if len(sys.argv) > 5 else []
    # No CFG dropout there: its draws are per data slot, so they differ between 1 and 2 processes.
    trainer = Trainer(worker_config(out, batch, data, overrides))
    assert trainer.config.max_steps == steps
    initial = trainable(trainer)
    trainer.train()
    if trainer.acc.is_main_process:
        save_file(initial, os.path.join(out, "initial.safetensors"))
        save_file(trainable(trainer), os.path.join(out, "final.safetensors"))
        print("distributed_type", trainer.acc.distributed_type, "world", trainer.world)
        if trainer.condition_cache is not None:
            print("condition_cache rows computed", trainer.condition_cache.misses)


if __name__ == "__main__":
    main()
