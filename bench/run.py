"""The benchmark suite: resode against NumPy, PyTorch, JAX, torchdiffeq and diffrax.

    python bench/run.py --out DIR [--quick] [--threads N]

writes DIR/report.md (the tables), DIR/times.png (time against size per
implementation) and DIR/results.json (every measurement). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import machine


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="directory for report.md, times.png, results.json")
    p.add_argument("--quick", action="store_true", help="fewer repeats, no N = 1e6 (< 10 min)")
    p.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="threads for every implementation (default: all CPUs)",
    )
    p.add_argument(
        "--sections",
        default="gemm,sizes,n_scaling,threads,memory",
        help="comma-separated subset of: gemm,sizes,n_scaling,threads,memory",
    )
    p.add_argument(
        "--render", type=Path, help="only rewrite the report in --out from this results.json"
    )
    p.add_argument("--thread-scaling-child", type=Path, help=argparse.SUPPRESS)
    opts = p.parse_args()
    if opts.out is None and opts.thread_scaling_child is None:
        p.error("--out is required")
    return opts


def run_sections(opts, settings, policy) -> tuple[list[dict], list[dict]]:
    """Rows of every requested section, and the GEMM rows."""
    import suite

    sections = set(opts.sections.split(","))
    history = suite.History()
    rows: list[dict] = []
    gemm = suite.gemm_section(settings, policy) if "gemm" in sections else []
    if "sizes" in sections:
        rows += suite.sizes_section(settings, policy, history)
    n_rows = []
    if "n_scaling" in sections:
        n_rows = suite.n_scaling_section(settings, policy, history, rows)
    rows += n_rows
    if "threads" in sections:
        rows += suite.thread_scaling_section(settings, n_rows)
    if "memory" in sections:
        rows += suite.memory_section(settings)
    return rows, gemm


def main() -> None:
    opts = parse_args()
    if opts.render:
        write_report(json.loads(opts.render.read_text()), opts.out)
        return
    machine.pin_threads(opts.threads)  # before NumPy, torch or JAX loads
    machine.cold_compile_caches()
    import suite

    settings = suite.Settings.make(opts.quick, opts.threads)
    policy = settings.policy()
    if opts.thread_scaling_child:
        rows = suite.thread_scaling_cases(settings, policy, suite.History())
        opts.thread_scaling_child.write_text(json.dumps(rows))
        return
    started = time.perf_counter()
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    rows, gemm = run_sections(opts, settings, policy)
    results = {
        "command": "python " + shlex.join(["bench/run.py", *sys.argv[1:]]),
        "started": stamp,
        "total_s": time.perf_counter() - started,
        "machine": machine.describe(opts.threads),
        "settings": vars(settings),
        "gemm": gemm,
        "rows": rows,
        "remeasured_s": policy.spent_s,
    }
    write_report(results, opts.out)


def write_report(results: dict, out: Path) -> None:
    import report

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "report.md").write_text(report.markdown(results))
    report.plot(results, out / "times.png")
    print(f"report: {out / 'report.md'}, plot: {out / 'times.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
