"""Run by the FSDP test under torchrun (gloo, CPU): accelerate's FSDP2 (fully_shard) on the tiny model.

    torchrun --nproc-per-node 2 training_fsdp_worker.py OUTPUT_DIR DATA_JSONL

OUTPUT_DIR/straight: 4 steps; OUTPUT_DIR/resumed: 2 steps, then a new Trainer resumes it to step 4
(sharded optimizer state, each rank's data position). Both save full trainable weights in checkpoints.
"""

import sys

import torch

torch.set_num_threads(1)

from test_training_fsdp import fsdp_config  # noqa: E402

from uniimage.training import Trainer  # noqa: E402


def main():
    out, data = sys.argv[1], sys.argv[2]
    straight = Trainer(fsdp_config(f"{out}/straight", 2, data))
    assert straight.acc.distributed_type == "FSDP", straight.acc.distributed_type
    assert type(next(straight.model.transformer.parameters())).__name__ == "DTensor"  # really sharded
    losses = straight.train()["losses"]
    first = Trainer(fsdp_config(f"{out}/resumed", 2, data), accelerator=straight.acc)
    first.train(until=2)
    resumed = Trainer(fsdp_config(f"{out}/resumed", 2, data, resume="auto"), accelerator=straight.acc)
    assert resumed.step == 2
    resumed.train()
    if straight.acc.is_main_process:
        print("FSDP world", straight.world, "losses", losses, flush=True)


if __name__ == "__main__":
    main()
