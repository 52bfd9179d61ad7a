"""Small-d loss-and-gradient times of every form and scheme, for two or more builds
of resode side by side (an A/B of kernel changes).

Each build (--build NAME=PATH, a directory put first on PYTHONPATH; the name
"installed" means the resode installed in this Python) runs every case in its own
process; the processes take turns, round after round, so that a drift of the
machine's speed hits every build alike. The figure per case is the median over
rounds of each round's fastest call. Writes a Markdown table (and the raw JSON).

    python bench/small_d_forms.py --out DIR/forms.md \\
        --build before=/tmp/before_pkg --build after=installed [--rounds 3]

``--cases benchmark`` times the benchmark's sizes instead (bench/problem.py's
SIZES, the inner form with Euler): the A/B that a change of the kernels' structure
must not slow down.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SIZES = [(2, 100, 100_000), (4, 200, 20_000)]
# (form, scheme): every form with Euler, the Hamiltonian forms with their
# symplectic schemes, and a Runge-Kutta scheme
CASES = [
    ("inner", "euler"),
    ("outer", "euler"),
    ("symmetric", "euler"),
    ("antisymmetric", "euler"),
    ("resnet_d", "euler"),
    ("hamiltonian", "symplectic_euler"),
    ("hamiltonian", "verlet"),
    ("hamiltonian_hr", "verlet"),
    ("inner", "rk4"),
]


def _cases(which: str) -> list[tuple[str, str, tuple[int, int, int]]]:
    if which == "benchmark":
        sys.path.insert(0, str(Path(__file__).parent))
        from problem import SIZES as BENCHMARK_SIZES

        return [("inner", "euler", size) for size in BENCHMARK_SIZES]
    return [(form, scheme, size) for form, scheme in CASES for size in SIZES]


def worker(calls: int, dtype: str, which: str) -> None:
    import numpy as np

    import resode
    from resode import _validation

    out = {}
    for form, scheme, (d, L, N) in _cases(which):
        rng = np.random.default_rng(0)
        v_shape, b_shape, _, _ = _validation.param_shapes(form, d)
        X = rng.standard_normal((N, d)).astype(dtype)
        Y = rng.standard_normal((N, d)).astype(dtype)
        V = (0.5 / np.sqrt(d) * rng.standard_normal((L, *v_shape))).astype(dtype)
        b = (0.1 * rng.standard_normal((L, *b_shape))).astype(dtype)
        kw = dict(T=1.0, form=form, scheme=scheme, activation="tanh", w1=0.1, w2=0.01)
        resode.loss_and_grad(X, Y, V, b, **kw)  # warm-up
        best = float("inf")
        for _ in range(calls):
            start = time.perf_counter()
            resode.loss_and_grad(X, Y, V, b, **kw)
            best = min(best, time.perf_counter() - start)
        out[f"{form} {scheme} ({d}, {L}, {N})"] = best
    json.dump(out, sys.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="Markdown report (JSON beside it)")
    ap.add_argument("--build", action="append", metavar="NAME=PATH")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3, help="timed calls per case and round")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--cases", default="small", choices=["small", "benchmark"])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.calls, args.dtype, args.cases)
        return 0
    if args.out is None or not args.build:
        ap.error("--out and at least one --build are required")
    builds = dict(b.split("=", 1) for b in args.build)
    times: dict[str, dict[str, list[float]]] = {name: {} for name in builds}
    for r in range(args.rounds):
        for name, path in builds.items():
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            if path != "installed":
                env["PYTHONPATH"] = path
            cmd = [sys.executable, __file__, "--worker", "--calls", str(args.calls)]
            cmd += ["--dtype", args.dtype, "--cases", args.cases]
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            for case, seconds in json.loads(result.stdout).items():
                times[name].setdefault(case, []).append(seconds)
            print(f"round {r + 1}/{args.rounds}: {name} done", flush=True)
    names = list(builds)
    first = names[0]
    lines = [
        f"# Loss and gradient, {args.cases} cases ({args.dtype}, tanh, w1 = 0.1)",
        "",
        f"{args.rounds} rounds x {args.calls} calls, median of the rounds' fastest call; "
        f"builds: {', '.join(f'{n} = {p}' for n, p in builds.items())}.",
        "",
        "| form, scheme (d, L, N) | "
        + " | ".join(f"{n} (ms)" for n in names)
        + " | "
        + " | ".join(f"{n} / {first}" for n in names[1:])
        + " |",
        "|---" * (2 * len(names)) + "|",
    ]
    medians = {n: {c: statistics.median(t) for c, t in times[n].items()} for n in names}
    for case in medians[first]:
        row = [f"{1e3 * medians[n][case]:.2f}" for n in names]
        row += [f"{medians[n][case] / medians[first][case]:.2f}" for n in names[1:]]
        lines.append(f"| {case} | " + " | ".join(row) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(times, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
