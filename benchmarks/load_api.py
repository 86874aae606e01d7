"""Load test of the HTTP API on loopback: N concurrent clients, micro-batching on and off.

    .venv/bin/python benchmarks/load_api.py [--model tiny] [--clients 8] [--requests 96] [--steps 8]

For each mode a fresh server runs in a subprocess on 127.0.0.1 (never any other address). Clients send
text-to-image requests with distinct prompts and seeds until `--requests` are done or `--max-seconds`
pass. Every answer must be 200 or 429 (429s wait their Retry-After, capped, and count); the server
must not crash; its resident memory is sampled and must stay under `--max-rss-growth-mb` above its
idle level. Prints p50/p95 latency and throughput per mode, and the batching speed-up. Exit 1 on a
failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import psutil

HOST = "127.0.0.1"  # loopback only, by design


@dataclass
class Result:
    mode: str
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    crashed: bool = False
    batches: int = 0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, max_batch: int, max_queue: int) -> subprocess.Popen:
    code = (
        "from uniimage.serving.app import serve; "
        f"serve({model!r}, host={HOST!r}, port={port}, max_batch={max_batch}, max_queue={max_queue}, ui=False)"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(proc: subprocess.Popen, base: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready")


async def sample_rss(pid: int, result: Result, stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            result.rss_peak_mb = max(result.rss_peak_mb, proc.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(0.2)


async def client(base: str, args, counter: list[int], deadline: float, result: Result) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        while time.monotonic() < deadline:
            if counter[0] >= args.requests:
                return
            i = counter[0]
            counter[0] += 1
            body = {"prompt": f"a lighthouse number {i} at dusk", "steps": args.steps, "seed": i}
            t0 = time.monotonic()
            try:
                r = await http.post("/v1/images/generations", json=body)
            except httpx.HTTPError as e:
                result.errors.append(f"{type(e).__name__}: {e}")
                continue
            if r.status_code == 200:
                result.ok += 1
                result.latencies.append(time.monotonic() - t0)
            elif r.status_code == 429:
                result.busy += 1
                counter[0] -= 1  # not served: try that request again after the server's hint
                await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 2.0))
            else:
                result.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")


async def run_mode(args, mode: str, max_batch: int, max_queue: int) -> Result:
    result = Result(mode)
    port = free_port()
    base = f"http://{HOST}:{port}"
    proc = start_server(args.model, port, max_batch, max_queue)
    try:
        await asyncio.to_thread(wait_ready, proc, base)
        # Warm-up: first calls pay one-off costs (allocations, kernels) that are not the steady state.
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            for _ in range(2):
                await http.post("/v1/images/generations", json={"prompt": "warm up", "steps": args.steps})
        result.rss_idle_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(proc.pid, result, stop))
        counter = [0]
        t0 = time.monotonic()
        deadline = t0 + args.max_seconds
        await asyncio.gather(*(client(base, args, counter, deadline, result) for _ in range(args.clients)))
        result.seconds = time.monotonic() - t0
        stop.set()
        await sampler
        result.crashed = proc.poll() is not None
        if not result.crashed:
            status = httpx.get(base + "/v1/status", timeout=5).json()  # /health says only ok
            result.batches = status["batches_run"] - 2  # minus the warm-up calls
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return result


def report(results: list[Result], args) -> list[str]:
    print(f"\nload_api: model={args.model} clients={args.clients} requests/mode={args.requests} steps={args.steps}"
          f" max_queue={args.max_queue} batch_on={args.max_batch}")
    print(f"{'mode':<14}{'ok':>5}{'429':>6}{'err':>5}{'pipe calls':>11}{'p50 s':>8}{'p95 s':>8}{'req/s':>8}"
          f"{'rss idle MB':>13}{'rss peak MB':>13}")
    problems = []
    for r in results:
        print(f"{r.mode:<14}{r.ok:>5}{r.busy:>6}{len(r.errors):>5}{r.batches:>11}{r.pct(0.5):>8.3f}{r.pct(0.95):>8.3f}"
              f"{r.throughput:>8.2f}{r.rss_idle_mb:>13.0f}{r.rss_peak_mb:>13.0f}")
        if r.errors:
            problems.append(f"{r.mode}: {len(r.errors)} requests neither succeeded nor got 429, e.g. {r.errors[0]}")
        if r.crashed:
            problems.append(f"{r.mode}: the server died")
        if r.rss_peak_mb - r.rss_idle_mb > args.max_rss_growth_mb:
            problems.append(f"{r.mode}: RSS grew {r.rss_peak_mb - r.rss_idle_mb:.0f} MB > {args.max_rss_growth_mb} MB")
    on, off = results[:2]
    if off.throughput:
        print(f"throughput ratio batching on/off: {on.throughput / off.throughput:.2f}x;"
              f" p50 latency ratio on/off: {on.pct(0.5) / off.pct(0.5):.2f}x")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=96, help="successful requests per mode")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--max-batch", type=int, default=4, help="micro-batch size in the 'on' mode")
    p.add_argument("--max-queue", type=int, default=16)
    p.add_argument("--max-seconds", type=float, default=120.0, help="per mode, whatever is left undone")
    p.add_argument("--max-rss-growth-mb", type=float, default=1024.0)
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 10_000:
        p.error("--clients must be 1..64 and --requests 1..10000")
    results = [
        asyncio.run(run_mode(args, "batching on", args.max_batch, args.max_queue)),
        asyncio.run(run_mode(args, "batching off", 1, args.max_queue)),
        # A queue smaller than the client count: shows 429 + Retry-After under overload, no errors.
        asyncio.run(run_mode(args, "overload q=2", args.max_batch, 2)),
    ]
    problems = report(results, args)
    for line in problems:
        print("FAIL:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
