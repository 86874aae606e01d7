"""A seeded preset is the same model in every process: its weights do not depend on the CPU thread count
or the string-hash seed, and neither does the VAE fingerprint a latent cache is checked against (it once
did: diffusers' `_use_default_values` list follows set order, so caches were refused in other processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from uniimage.data.latents import vae_fingerprint
from uniimage.presets import build_preset

ROOT = Path(__file__).parents[2]
# Build the preset, then print one hash over every state-dict tensor's bytes and the VAE fingerprint.
PROBE = """
import hashlib, json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from uniimage.presets import build_preset
from uniimage.data.latents import vae_fingerprint
model, _, _ = build_preset("tiny", torch.float32, seed=int(sys.argv[2]))
h = hashlib.sha256()
for name, t in sorted(model.state_dict().items()):
    h.update(name.encode()); h.update(t.detach().contiguous().view(torch.uint8).numpy().tobytes())
print(json.dumps({"weights": h.hexdigest(), "vae": vae_fingerprint(model.vae), "threads": torch.get_num_threads()}))
"""


def probe(threads: int, hash_seed: int, seed: int = 0) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=str(hash_seed), OMP_NUM_THREADS=str(threads))
    run = subprocess.run([sys.executable, "-c", PROBE, str(threads), str(seed)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_preset_weights_and_vae_fingerprint_are_the_same_in_any_process():
    # Hash seeds 1 and 2 order the tiny VAE's `_use_default_values` differently (checked when this was found).
    a, b = probe(threads=1, hash_seed=1), probe(threads=2, hash_seed=2)
    assert (a["threads"], b["threads"]) == (1, 2)
    assert a["weights"] == b["weights"]
    assert a["vae"] == b["vae"]
    here, other = build_preset("tiny", seed=0)[0], build_preset("tiny", seed=1)[0]  # this process, 1 thread
    assert vae_fingerprint(here.vae) == a["vae"] != vae_fingerprint(other.vae)  # the fingerprint sees the weights


def test_vae_fingerprint_ignores_bookkeeping_order_but_not_config_or_weights():
    vae = build_preset("tiny", seed=0)[0].vae
    before = vae_fingerprint(vae)
    defaults = list(vae.config["_use_default_values"])
    assert len(defaults) > 1
    vae._internal_dict = type(vae.config)({**vae.config, "_use_default_values": defaults[::-1]})
    assert vae_fingerprint(vae) == before
    vae._internal_dict = type(vae.config)({**vae.config, "scaling_factor": vae.config["scaling_factor"] * 2})
    assert vae_fingerprint(vae) != before
    with torch.no_grad():
        next(vae.parameters()).view(-1)[0] += 1e-6
    vae._internal_dict = type(vae.config)({**vae.config, "scaling_factor": vae.config["scaling_factor"] / 2})
    assert vae_fingerprint(vae) != before


def test_a_cache_made_in_another_process_is_accepted(tmp_path, shapes_jsonl):
    from training_helpers import tiny_config

    from uniimage.training import Trainer

    out = tmp_path / "latents"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="2", OMP_NUM_THREADS="2")
    run = subprocess.run([sys.executable, "-m", "uniimage.cli.main", "data", "cache-latents", str(shapes_jsonl), "-o", str(out),
                          "--model", "tiny"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    trainer = Trainer(tiny_config(tmp_path / "run", out, **{"data.datasets.0.type": "latents", "max_steps": 1}))
    assert trainer.latent_cache and trainer.model.vae.encoder is None
    assert len(trainer.train()["losses"]) == 1
