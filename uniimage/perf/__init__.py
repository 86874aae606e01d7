"""`uniimage bench`: time per image split into MLLM conditioning, DiT steps and VAE decode, throughput
and peak memory, optionally against a naive reference that recomputes everything per step and row."""

from .baseline import naive_generate
from .bench import BenchSettings, load_bench_pipeline, run_bench
from .report import format_table

__all__ = ["BenchSettings", "format_table", "load_bench_pipeline", "naive_generate", "run_bench"]
