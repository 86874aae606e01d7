"""Shared by the training tests: tiny configs on a small synthetic ShapesEval set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

from uniimage.training import load_config

torch.set_num_threads(1)


def tiny_config(out, data_jsonl, **fields):
    """The tiny preset on `data_jsonl`, fast settings; `fields` are dotted overrides (key=value)."""
    data = {
        "output_dir": str(out),
        "model": {"preset": "tiny"},
        "data": {"datasets": [{"path": str(data_jsonl), "type": "jsonl"}], "cfg_dropout": "auto"},
        "max_steps": 4,
        "batch_size": 2,
        "optim": {"lr": 1e-3, "warmup_steps": 2, "min_lr": 1e-4},
        "checkpoint": {"every": 2, "keep": 2},
        "log": {"every": 1, "tensorboard": False, "progress": False},
    }
    return load_config(data=data, overrides=[f"{k}={v}" for k, v in fields.items()])


def trainable(trainer) -> dict:
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}


def resumed_run(out, data_jsonl, until: int, **fields):
    """The run of `fields` in `out`, stopped after optimizer step `until`, then a fresh Trainer resuming it
    (not trained further yet: its checkpoints are still as the stopped run left them)."""
    from uniimage.training import Trainer

    Trainer(tiny_config(out, data_jsonl, **fields)).train(until=until)
    torch.manual_seed(1234)  # the process's RNG moves on; resume must restore it
    resumed = Trainer(tiny_config(out, data_jsonl, resume="auto", **fields))
    assert resumed.step == until
    return resumed


def assert_same_trainable(a: dict, b: dict, atol: float = 0.0):
    """The same trainable weights: bit-identical, or within `atol` where float reductions may reorder."""
    assert a.keys() == b.keys()
    for name, value in a.items():
        if atol == 0.0:
            assert torch.equal(b[name], value), name
        else:
            torch.testing.assert_close(b[name], value, rtol=0, atol=atol)


class TorchrunWorkers:
    """`script` in `nproc` gloo processes under torchrun (1 thread each, this tree and the tests on the path),
    started in its own session so that leaving the `with` block kills any worker still running.

        with TorchrunWorkers(WORKER, out, data) as workers:
            ...                          # meanwhile: the 1-process reference run, in this process
            log = workers.wait(timeout=600)
        assert workers.returncode == 0, log[-3000:]
    """

    def __init__(self, script, *args, nproc: int = 2, env: dict | None = None):
        tests, repo = Path(__file__).parent, Path(__file__).parents[2]
        full_env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                        PYTHONPATH=os.pathsep.join([str(tests), str(repo)]), **(env or {}))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
               str(script), *map(str, args)]
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)

    @property
    def returncode(self):
        return self.proc.returncode

    def wait(self, timeout: float) -> str:
        """The workers' combined output, once they end (TimeoutExpired after `timeout` s)."""
        log, _ = self.proc.communicate(timeout=timeout)
        return log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:  # never leave the workers behind
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
