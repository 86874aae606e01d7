"""Input pipeline alone: samples/s of webdataset shards -> JPEG decode -> resize + crop to 512 -> batches,
in the training process (0 workers) and in N DataLoader workers, the same BatchLoader training uses.

    python benchmarks/input_pipeline.py                       # 0 and 2 workers, 512 px, batch 8
    python benchmarks/input_pipeline.py --workers 0 2 4 --images 256 --size 512

The shards are written once into a temp folder: JPEG photos-like images (smooth colour fields plus
grain, so they do not compress to nothing) of 768x576 to 1024x768, a caption each. Nothing of the model
runs: this is the ceiling of what the data side can feed. Each worker count is timed after one
warm-up batch per worker (worker start-up excluded), over `--batches` batches.
"""

from __future__ import annotations

import argparse
import io
import os
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = [(768, 576), (1024, 768), (800, 800), (640, 960)]


def photo_like(rng: np.random.Generator, size: tuple[int, int]) -> bytes:
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = [np.sin(x / rng.uniform(20, 200) + rng.uniform(0, 6)) + np.cos(y / rng.uniform(20, 200)) for _ in range(3)]
    img = np.stack(channels, -1) * 60 + 128 + rng.normal(0, 12, (h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_shards(root: Path, images: int, shards: int = 12) -> int:
    per_shard = max(1, -(-images // shards))  # enough shards that every worker gets some
    rng = np.random.default_rng(0)
    total = 0
    for s in range(0, images, per_shard):
        with tarfile.open(root / f"shard-{s // per_shard:04d}.tar", "w") as tar:
            for i in range(s, min(images, s + per_shard)):
                for name, data in ((f"{i:06d}.jpg", photo_like(rng, SIZES[i % len(SIZES)])),
                                   (f"{i:06d}.txt", f"a photo number {i}".encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                    total += len(data)
    return total


def measure(shards: Path, workers: int, size: int, batch: int, batches: int) -> float:
    from uniimage.data import build_dataset
    from uniimage.data.loader import BatchLoader

    stream = build_dataset({"type": "webdataset", "path": str(shards), "shuffle_buffer": 64}, size, seed=0)
    loader = BatchLoader(stream, batch, num_workers=workers, prefetch_factor=2)
    for _ in range(max(1, workers)):  # warm-up: every worker started and delivered once
        next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        b = next(loader)
        assert b["target"].shape == (batch, 3, size, size)
    return batches * batch / (time.perf_counter() - start)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--batches", type=int, default=12, help="timed batches per setting")
    p.add_argument("--images", type=int, default=192)
    p.add_argument("--repeats", type=int, default=2, help="alternating rounds; the median is reported")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        nbytes = write_shards(Path(tmp), args.images)
        print(f"{args.images} JPEGs in {len(list(Path(tmp).glob('*.tar')))} shards ({nbytes / 2**20:.1f} MiB), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        rates: dict[int, list[float]] = {w: [] for w in args.workers}
        for _ in range(args.repeats):  # alternate settings so a busy machine slows all alike
            for w in args.workers:
                rates[w].append(measure(Path(tmp), w, args.size, args.batch, args.batches))
        base = float(np.median(rates[args.workers[0]]))
        print(f"{'workers':>7} {'samples/s':>10} {'vs ' + str(args.workers[0]):>8}  runs")
        for w in args.workers:
            med = float(np.median(rates[w]))
            print(f"{w:>7} {med:>10.2f} {med / base:>7.2f}x  {' '.join(f'{r:.2f}' for r in rates[w])}")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
