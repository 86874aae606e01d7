"""Two gloo processes (torchrun) and one process with the same global batch reach the same weights."""

from pathlib import Path

from safetensors.torch import load_file
from training_helpers import TorchrunWorkers, trainable

from uniimage.training import Trainer, load_config

WORKER = Path(__file__).with_name("training_ddp_worker.py")
STEPS = 3


def worker_config(out, batch, data, overrides=()):
    return load_config(overrides=list(overrides), data={
        "output_dir": str(out), "model": {"preset": "tiny"}, "max_steps": STEPS, "batch_size": batch,
        "data": {"datasets": [{"path": str(data), "type": "jsonl"}], "cfg_dropout": None},
        "optim": {"lr": 2e-4, "warmup_steps": 1, "min_lr": 1e-5},
        "checkpoint": {"every": 1000}, "log": {"every": 1, "tensorboard": False, "progress": False},
    })


def test_two_processes_equal_one_process(tmp_path, shapes_jsonl):
    with TorchrunWorkers(WORKER, tmp_path / "two", 2, STEPS, shapes_jsonl) as workers:
        one = Trainer(worker_config(tmp_path / "one", 4, shapes_jsonl))  # meanwhile, in this process
        one.train()
        log = workers.wait(timeout=180)
    assert workers.returncode == 0, log[-3000:]
    assert "MULTI_CPU world 2" in log
    two = load_file(str(tmp_path / "two" / "final.safetensors"))
    ours = trainable(one)
    assert two.keys() == ours.keys()
    diff = max((two[k] - ours[k]).abs().max().item() for k in ours)
    moved = max((ours[k] - v).abs().max().item() for k, v in load_file(str(tmp_path / "two" / "initial.safetensors")).items())
    assert diff < 1e-5 and moved > 100 * diff, (diff, moved)
