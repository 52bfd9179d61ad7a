"""resode.loss_and_grad against the NumPy reference implementation, side by side."""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from problem import RESODE_COST, SIZES

import reference
import resode

QUICK = [(2, 50, 1000), (2, 100, 10_000), (16, 50, 2000), (64, 16, 2000)]
COST = {k: v for k, v in RESODE_COST.items() if k != "head"}  # the reference's arguments


def problem(d, L, N, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(N, d)),
        rng.normal(size=(N, d)),
        rng.normal(size=(L, d, d)) / np.sqrt(d),
        0.1 * rng.normal(size=(L, d)),
    )


def check_same_problem(args):
    got = resode.loss_and_grad(*args, **COST)
    ref = reference.loss_and_grad(*args, **COST)
    for a, r in [(got.loss, ref["loss"]), (got.dV, ref["dV"]), (got.db, ref["db"])]:
        err = np.linalg.norm(np.asarray(a) - r) / np.linalg.norm(r)
        if err > 1e-10:
            raise SystemExit(f"resode and the reference disagree (relative error {err:.1e})")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    opts = parser.parse_args()
    info = resode.build_info()
    print(f"# resode {info['version']} vs NumPy {np.__version__} reference")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"threads used by resode: {opts.threads or info['threads']}, SIMD: {info['simd']}"
    )
    print(f"problem: {COST}, float64; median of {opts.repeats} interleaved repeats after warm-up\n")
    print("| d | L | N | resode (ms) | NumPy (ms) | NumPy / resode | resode GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    for d, L, N in QUICK if opts.quick else SIZES:
        args = problem(d, L, N)
        check_same_problem(args)
        runs = {
            "resode": lambda a=args: resode.loss_and_grad(*a, **COST, threads=opts.threads),
            "numpy": lambda a=args: reference.loss_and_grad(*a, **COST),
        }
        times = {k: [] for k in runs}
        for fn in runs.values():
            fn()  # warm-up
        for _ in range(opts.repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        tr, tn = (statistics.median(times[k]) for k in ("resode", "numpy"))
        print(
            f"| {d} | {L} | {N} | {1e3 * tr:.2f} | {1e3 * tn:.2f} | {tn / tr:.1f}x | "
            f"{6 * d * d * N * L / tr / 1e9:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
