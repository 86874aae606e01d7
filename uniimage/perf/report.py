"""The bench result as a plain-text table."""

from __future__ import annotations


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def format_table(result: dict) -> str:
    s, env = result["settings"], result["environment"]
    lines = [
        f"model {s['model']} ({env['parameters'] / 1e6:.0f}M params) on {s['device']} ({env['device_name']}), {s['dtype']}, "
        f"{s['steps']} steps, offload {s['offload'] or 'none'}, compile {s['compile']}, {'edit' if s['edit'] else 'text-to-image'}, "
        f"median of {s['repeats']}, {env['threads']} threads, torch {env['torch']}",
        f"peak memory: {env['memory_measure']}",
        "",
    ]
    header = ["batch", "mllm ms/img", "dit ms/img", "vae ms/img", "total ms/img", "img/s", "peak MiB"]
    with_baseline = any("baseline" in r for r in result["results"])
    if with_baseline:
        header += ["naive ms/img", "naive MiB", "speedup", "max |diff|", "agree"]
    rows = [header]
    for r in result["results"]:
        o = r["ours"]
        row = [str(r["batch"]), *(_ms(o["seconds_per_image"][k]) for k in ("mllm", "dit", "vae", "total")),
               f"{o['images_per_second']:.2f}", _mib(o["peak_memory_bytes"])]
        if "baseline" in r:
            b = r["baseline"]
            row += [_ms(b["seconds_per_image"]["total"]), _mib(b["peak_memory_bytes"]), f"{r['speedup']:.2f}x",
                    f"{r['max_abs_diff']:.1e}", "yes" if r["outputs_agree"] else "NO"]
        elif with_baseline:
            row += ["-"] * 5
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
