"""Resuming never unpickles: every state file is JSON / safetensors (or a weights-only torch file for a
sharded optimizer); a state file swapped for a code-running pickle is refused and its code never runs;
older pickled checkpoints are refused with the conversion command, which converts them safely."""

import json
import os
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from training_helpers import tiny_config, trainable

from uniimage.cli.main import main as cli
from uniimage.errors import CheckpointError
from uniimage.training import Trainer
from uniimage.training import checkpointing as ckpt
from uniimage.training.statefile import load_state, save_state

FIELDS = dict(max_steps=4, **{"checkpoint.every": 2, "checkpoint.keep": 1})


class MarkerPayload:
    """Unpickling this creates `path`: the stand-in for any code an attacker's pickle would run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def evil_pickle(marker: Path) -> bytes:
    data = pickle.dumps({"state": MarkerPayload(marker)})
    probe = marker.with_name(marker.name + ".probe")
    pickle.loads(pickle.dumps(MarkerPayload(probe))).close()  # the payload is live: plain unpickling runs it
    assert probe.exists()
    probe.unlink()
    return data


@pytest.fixture(scope="module")
def run_at_2(tmp_path_factory, shapes_jsonl):
    """A run stopped after its step-2 checkpoint, and the weights of its straight run to step 4."""
    root = tmp_path_factory.mktemp("safe")
    straight = Trainer(tiny_config(root / "straight", shapes_jsonl, **FIELDS))
    straight.train()
    Trainer(tiny_config(root / "run", shapes_jsonl, **FIELDS)).train(until=2)
    return root / "run", trainable(straight)


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def test_state_round_trips_exactly(tmp_path):
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
             "opt": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 3)}},
                     "param_groups": [{"betas": (0.9, 0.999), "foreach": None, "params": [0]}]},
             "__state__": "a key that looks like the tag", "nan": float("nan")}
    save_state(state, tmp_path, "s")
    assert {p.name for p in tmp_path.iterdir()} == {"s.json", "s.safetensors"}
    back = load_state(tmp_path, "s")
    assert back["python"] == state["python"] and isinstance(back["python"][1], tuple)
    assert back["numpy"][0] == "MT19937" and back["numpy"][1].dtype == np.uint32
    assert np.array_equal(back["numpy"][1], state["numpy"][1]) and back["numpy"][2:4] == state["numpy"][2:4]
    assert torch.equal(back["torch"], state["torch"])
    assert list(back["opt"]["state"]) == [0]
    assert torch.equal(back["opt"]["state"][0]["exp_avg"], state["opt"]["state"][0]["exp_avg"])
    assert back["opt"]["param_groups"][0]["betas"] == (0.9, 0.999) and back["__state__"] == state["__state__"]
    assert np.isnan(back["nan"])
    np.random.set_state(back["numpy"])  # accepted as is by the RNG setters
    random.setstate(back["python"])
    with pytest.raises(CheckpointError, match=r"state entry /x is a builtins.object"):
        save_state({"x": object()}, tmp_path, "t")


def test_checkpoint_holds_no_pickle(run_at_2):
    run, _ = run_at_2
    folder = run / "checkpoint-2"
    names = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert names == {"trainable.safetensors", "optimizer.json", "optimizer.safetensors", "scheduler.json",
                     "rng/rank-0.json", "rng/rank-0.safetensors", "data/rank-0.json", "training_state.json", "config.yaml"}
    assert json.loads((folder / "training_state.json").read_text())["state_format"] == ckpt.STATE_FORMAT


@pytest.mark.parametrize("name, error", [
    ("optimizer.json", "optimizer.json is not a JSON state file"),
    ("optimizer.safetensors", "optimizer.safetensors is not a safetensors file"),
    ("scheduler.json", "scheduler.json is not a JSON state file"),
    ("rng/rank-0.json", "rank-0.json is not a JSON state file"),
    ("rng/rank-0.safetensors", "rank-0.safetensors is not a safetensors file"),
    ("data/rank-0.json", "rank-0.json is not a JSON state file"),
    ("trainable.safetensors", "trainable.safetensors is not a safetensors file"),
    ("training_state.json", "training_state.json is not JSON"),
])
def test_state_file_replaced_by_a_pickle_is_refused_and_never_run(run_at_2, tmp_path, shapes_jsonl, name, error):
    run = copy_run(run_at_2[0], tmp_path / "run")
    marker = tmp_path / "pwned"
    (run / "checkpoint-2" / name).write_bytes(evil_pickle(marker))
    with pytest.raises(CheckpointError, match=error):
        Trainer(tiny_config(run, shapes_jsonl, resume="auto", **FIELDS))
    assert not marker.exists()


def test_pickles_beside_the_state_are_never_read(run_at_2, tmp_path, shapes_jsonl):
    # Older versions' file names, dropped into a current checkpoint: resume reads only the safe files.
    run = copy_run(run_at_2[0], tmp_path / "run")
    marker = tmp_path / "pwned"
    for name in ("optimizer.pt", "scheduler.pt", "rng/rank-0.pt", "data/rank-0.pt"):
        (run / "checkpoint-2" / name).write_bytes(evil_pickle(marker))
    resumed = Trainer(tiny_config(run, shapes_jsonl, resume="auto", **FIELDS))
    resumed.train()
    assert not marker.exists()
    straight = run_at_2[1]
    assert all(torch.equal(v, straight[k]) for k, v in trainable(resumed).items())  # exact resume holds


def test_sharded_optimizer_file_is_read_weights_only(tmp_path):
    # A sharded optimizer's rank file stays a torch file: FSDP2's DTensor state loads, a pickle payload does not.
    script = (
        "import os, sys, torch, torch.distributed as dist\n"
        "os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=sys.argv[2])\n"
        "dist.init_process_group('gloo', rank=0, world_size=1)\n"
        "from torch.distributed.fsdp import fully_shard\n"
        "m = torch.nn.Linear(4, 4); fully_shard(m); opt = torch.optim.AdamW(m.parameters())\n"
        "m(torch.ones(2, 4)).sum().backward(); opt.step()\n"
        "torch.save(opt.state_dict(), sys.argv[1]); dist.destroy_process_group()\n")
    (tmp_path / "optimizer").mkdir()
    port = str(29500 + os.getpid() % 1000)
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "optimizer" / "rank-0.pt"), port], check=True, timeout=120)
    state = ckpt.load_part(tmp_path, "optimizer/rank-0.pt")
    from torch.distributed.tensor import DTensor

    assert isinstance(state["state"][0]["exp_avg"], DTensor) and state["state"][0]["exp_avg"].to_local().shape == (4, 4)
    marker = tmp_path / "pwned"
    torch.save({"state": MarkerPayload(marker)}, tmp_path / "optimizer" / "rank-1.pt")
    refused = r"refusing .*rank-1.pt: it holds something other than tensors.*nothing in it was run"
    with pytest.raises(CheckpointError, match=refused):
        ckpt.load_part(tmp_path, "optimizer/rank-1.pt")
    assert not marker.exists()


def write_legacy(folder: Path):
    """Turn a checkpoint into the layout older versions wrote: pickled .pt state, no state_format."""
    for name in ("optimizer", "scheduler", "rng/rank-0", "data/rank-0"):
        path = folder / name
        torch.save(load_state(path.parent, path.name), path.with_name(path.name + ".pt"))
        for suffix in (".json", ".safetensors"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    state = json.loads((folder / "training_state.json").read_text())
    del state["state_format"]
    (folder / "training_state.json").write_text(json.dumps(state))


def test_older_checkpoint_is_refused_then_converted_and_resumes_exactly(run_at_2, tmp_path, shapes_jsonl, capsys):
    run = copy_run(run_at_2[0], tmp_path / "run")
    write_legacy(run / "checkpoint-2")
    before = {p: p.read_bytes() for p in (run / "checkpoint-2").rglob("*.pt")}
    with pytest.raises(CheckpointError, match=r"older uniimage that pickled.*`uniimage convert-checkpoint .*checkpoint-2`"):
        Trainer(tiny_config(run, shapes_jsonl, resume="auto", **FIELDS))
    assert cli(["convert-checkpoint", str(run)]) == 0
    assert "checkpoint-2: wrote data/rank-0.json, optimizer.json, rng/rank-0.json, scheduler.json" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in before} == before  # the originals are kept
    assert cli(["convert-checkpoint", str(run / "checkpoint-2")]) == 0
    assert "already in the safe format" in capsys.readouterr().out
    resumed = Trainer(tiny_config(run, shapes_jsonl, resume="auto", **FIELDS))
    resumed.train()
    assert all(torch.equal(v, run_at_2[1][k]) for k, v in trainable(resumed).items())


def test_conversion_refuses_a_tampered_older_checkpoint(run_at_2, tmp_path, capsys):
    run = copy_run(run_at_2[0], tmp_path / "run")
    folder = run / "checkpoint-2"
    write_legacy(folder)
    marker = tmp_path / "pwned"
    (folder / "rng" / "rank-0.pt").write_bytes(evil_pickle(marker))
    assert cli(["convert-checkpoint", str(run)]) == 1
    err = capsys.readouterr().err
    assert "refusing" in err and "rank-0.pt" in err and "nothing in it was run" in err
    assert not marker.exists()
    assert {p.name for p in folder.rglob("*.json")} == {"training_state.json"}  # nothing half-converted
    assert "state_format" not in (folder / "training_state.json").read_text()


def test_resume_with_another_cpu_thread_count_warns(run_at_2, tmp_path, caplog):
    folder = copy_run(run_at_2[0], tmp_path / "run") / "checkpoint-2"
    state = json.loads((folder / "training_state.json").read_text())
    assert state["cpu_threads"] == torch.get_num_threads()
    (folder / "training_state.json").write_text(json.dumps(dict(state, cpu_threads=torch.get_num_threads() + 3)))
    with caplog.at_level("WARNING"):
        ckpt.read_training_state(folder)
        ckpt.read_training_state(folder)
    warned = [r.getMessage() for r in caplog.records if "CPU threads" in r.getMessage()]
    assert len(warned) == 1 and f"set OMP_NUM_THREADS={torch.get_num_threads() + 3}" in warned[0]
