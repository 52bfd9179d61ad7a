"""One data-parallel gradient step on a Dask LocalCluster against the local call.

A step is the gradient of the mean cost J/N of a model (state head) on (X, Y):
locally ``training._Objective`` (resode.loss_and_grad on the whole arrays), on
Dask ``distributed.ShardedObjective`` (the shards persisted on the workers, the
parameters sent, the shards' losses and gradients summed on the driver). The
cluster runs 1 worker process with all threads, or one process per thread.
Implementations take turns round after round; the report gives the median
time per step, the overhead (Dask minus local, in ms) and the speed-up
(local / Dask).

    python bench/dask_steps.py [--rounds 5] [--threads 2] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

# the two sizes, and a tiny one where the step is all overhead
SIZES = [(64, 64, 100_000), (2, 100, 1_000_000), (2, 10, 1000)]


def _time(fn, rounds_out: list[float]) -> None:
    start = time.perf_counter()
    fn()
    rounds_out.append(time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", help="also write the report (Markdown) here")
    opts = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import machine

    machine.pin_threads(opts.threads)
    import logging
    import warnings

    import distributed

    logging.getLogger("distributed").setLevel(logging.ERROR)
    # NumPy inputs travel in the graph (so that a lost shard can be recomputed)
    warnings.filterwarnings("ignore", message="Sending large graph")
    warnings.filterwarnings("ignore", message="Port 8787")

    import resode
    from resode import training
    from resode.distributed import ShardedObjective

    T = opts.threads
    layouts = [(1, T), (T, 1)] if T > 1 else [(1, 1)]
    lines = [
        f"One gradient step of the mean cost, float64, {T} threads in all, median of "
        f"{opts.rounds} interleaved rounds. Dask: a LocalCluster of worker processes "
        "(workers x threads each), the shards persisted on them.",
        "",
        "| (d, L, N) | local (ms) | "
        + " | ".join(f"Dask {w}x{t} (ms) | overhead | speed-up" for w, t in layouts)
        + " |",
        "|---|---|" + "---|---|---|" * len(layouts),
    ]
    for d, L, N in SIZES:
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(N, d)), rng.normal(size=(N, d))
        model = resode.ResNetODE(d, L, init="normal", init_scale=1 / np.sqrt(d), seed=0)
        local = training._Objective(model, X, Y, None, T)
        steps = {"local": lambda local=local: local()}
        stack = []
        for w, t in layouts:
            cluster = distributed.LocalCluster(
                n_workers=w, threads_per_worker=t, processes=True, dashboard_address=None
            )
            client = distributed.Client(cluster, set_as_default=False)
            stack.append((client, cluster))
            objective = ShardedObjective(model, X, Y, None, client, t)
            steps[f"{w}x{t}"] = lambda o=objective: o()
        times: dict[str, list[float]] = {name: [] for name in steps}
        for fn in steps.values():
            fn()  # warm-up
        for _ in range(opts.rounds):
            for name, fn in steps.items():
                _time(fn, times[name])
        med = {name: statistics.median(t) for name, t in times.items()}
        row = f"| ({d}, {L}, {N}) | {1e3 * med['local']:.1f} |"
        for w, t in layouts:
            m = med[f"{w}x{t}"]
            row += f" {1e3 * m:.1f} | {1e3 * (m - med['local']):+.1f} | {med['local'] / m:.2f}x |"
        lines.append(row)
        print(row, flush=True)
        for client, cluster in stack:
            client.close()
            cluster.close()
    report = "\n".join(lines) + "\n"
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(report)
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
