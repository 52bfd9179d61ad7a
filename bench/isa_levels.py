"""resode's loss and gradient under each ISA level of one build, side by side.

Every level (and, with --build NAME=PATH, another installation of resode, e.g.
an older or a -march=native build put first on PYTHONPATH) runs the benchmark
sizes of problem.py in its own process with RESODE_ISA set; the processes take
turns, round after round, so that a drift of the machine's speed hits every
level alike. The figure per size is the median over rounds of each round's
fastest call. Writes a Markdown table (and the raw JSON beside it).

    python bench/isa_levels.py --out bench/results/isa.md [--rounds 5] [--quick]
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

from problem import FLOAT32_SIZES, RESODE_COST, SIZES, make_problem

QUICK = [(2, 50, 1000), (2, 100, 20_000), (4, 200, 4000), (16, 50, 2000), (64, 16, 2000)]


def worker(cases: list[tuple[int, int, int, str]], calls: int) -> None:
    import resode

    out = {"isa": resode.build_info().get("isa", "unknown"), "seconds": {}}
    for d, L, N, dtype in cases:
        p = make_problem(d, L, N, dtype)
        run = lambda p=p: resode.loss_and_grad(p.X, p.Y, p.V, p.b, **RESODE_COST)  # noqa: E731
        run()  # warm-up: first touch of the workspace
        best = float("inf")
        for _ in range(calls):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        out["seconds"][f"{d},{L},{N},{dtype}"] = best
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="Markdown report (JSON beside it)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3, help="timed calls per size and round")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a check of the script")
    ap.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another resode installation (a PYTHONPATH entry) to time beside the levels",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        worker([tuple(c) for c in json.loads(opts.worker)], opts.calls)
        return

    import resode
    from resode import _isa

    sizes = QUICK if opts.quick else SIZES
    cases = [(*s, "float64") for s in sizes]
    cases += [(*s, "float32") for s in (QUICK[1:2] if opts.quick else FLOAT32_SIZES)]
    runnable = [lv for lv in resode.build_info()["isa_built"] if lv in _isa.cpu_levels()]
    variants = {level: {"RESODE_ISA": level} for level in runnable}
    for spec in opts.build:
        name, path = spec.split("=", 1)
        variants[name] = {"PYTHONPATH": path}
    here = Path(__file__).resolve()
    times: dict[str, dict[str, list[float]]] = {name: {} for name in variants}
    for r in range(opts.rounds):
        for name, env in variants.items():
            child = {k: v for k, v in os.environ.items() if k not in ("RESODE_ISA", "PYTHONPATH")}
            child.update(env)
            args = [sys.executable, str(here), "--out", "-", "--calls", str(opts.calls)]
            args += ["--worker", json.dumps(cases)]
            res = subprocess.run(args, env=child, capture_output=True, text=True, check=True)
            got = json.loads(res.stdout)
            for case, seconds in got["seconds"].items():
                times[name].setdefault(case, []).append(seconds)
            print(f"round {r + 1}/{opts.rounds}: {name} ({got['isa']}) done", flush=True)

    names = list(variants)
    ref = runnable[-1]
    lines = [
        "| d, L, N, dtype | "
        + " | ".join(f"{n} (ms)" for n in names)
        + " | "
        + " | ".join(f"{n} / {ref}" for n in names if n != ref)
        + " |",
        "|---" * (1 + 2 * len(names) - 1) + "|",
    ]
    medians = {n: {c: statistics.median(v) for c, v in times[n].items()} for n in names}
    for case in medians[ref]:
        row = [case.replace(",", ", ")]
        row += [f"{1e3 * medians[n][case]:.2f}" for n in names]
        row += [f"{medians[n][case] / medians[ref][case]:.2f}" for n in names if n != ref]
        lines.append("| " + " | ".join(row) + " |")
    info = resode.build_info()
    header = [
        f"# resode per ISA level ({time.strftime('%Y-%m-%d')})",
        "",
        f"CPU levels: {', '.join(_isa.cpu_levels())}; built: {', '.join(info['isa_built'])}; "
        f"threads {info['threads']}; {opts.rounds} rounds x {opts.calls} calls, median of the "
        "rounds' fastest call; the problem of bench/problem.py (inner, tanh, state head).",
        "A ratio above 1 is slower than the highest level this CPU runs.",
        "",
    ]
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text("\n".join(header + lines) + "\n")
    opts.out.with_suffix(".json").write_text(json.dumps({"times": times, "info": info}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
