"""Wall time of commands that must answer at once: `uniimage --help`, `uniimage info tiny`, and an argument
error (`generate --guidance nan`), each in a fresh process. Prints median / min / max over N runs, and the
same for `python -c pass` (the interpreter's own floor) as the baseline.

    python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "uniimage --help": [sys.executable, "-m", "uniimage.cli.main", "--help"],
    "uniimage info tiny": [sys.executable, "-m", "uniimage.cli.main", "info", "tiny"],
    "uniimage generate x --guidance nan": [sys.executable, "-m", "uniimage.cli.main", "generate", "x", "--guidance", "nan"],
}


def wall(argv, env) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"{'command':40s} {'median':>8s} {'min':>8s} {'max':>8s}  (s, {args.runs} runs, load {os.getloadavg()[0]:.1f})")
    for name, argv in COMMANDS.items():
        wall(argv, env)  # warm the file cache
        times = [wall(argv, env) for _ in range(args.runs)]
        print(f"{name:40s} {statistics.median(times):8.3f} {min(times):8.3f} {max(times):8.3f}")


if __name__ == "__main__":
    main()
