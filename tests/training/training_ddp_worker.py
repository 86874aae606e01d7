"""Run by the multi-process test under torchrun: train a few tiny steps, save the trainable weights.

    torchrun --nproc-per-node 2 training_ddp_worker.py OUTPUT_DIR BATCH_PER_PROCESS STEPS DATA_JSONL
"""

import os
import sys

import torch

torch.set_num_threads(1)

from safetensors.torch import save_file  # noqa: E402

from uniimage.training import Trainer, load_config  # noqa: E402


def main():
    out, batch, steps, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    config = load_config(data={
        "output_dir": out, "model": {"preset": "tiny"}, "max_steps": steps, "batch_size": batch,
        # No CFG dropout: its draws are per data slot, so they differ between 1 and 2 processes.
        "data": {"datasets": [{"path": data, "type": "jsonl"}], "cfg_dropout": None},
        "optim": {"lr": 1e-3, "warmup_steps": 1, "min_lr": 1e-4},
        "checkpoint": {"every": 1000}, "log": {"every": 1, "tensorboard": False, "progress": False},
    })
    trainer = Trainer(config)
    trainer.train()
    if trainer.acc.is_main_process:
        weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
        save_file(weights, os.path.join(out, "final.safetensors"))
        print("distributed_type", trainer.acc.distributed_type, "world", trainer.world)


if __name__ == "__main__":
    main()
