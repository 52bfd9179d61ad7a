"""The report: Markdown tables and a PNG plot from the rows of a run (results.json)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from peers import PEERS, RESODE
from problem import flops

LABELS = [p.label for p in PEERS]
COLORS = {label: f"C{i}" for i, label in enumerate(LABELS)}  # the same colour in every panel


def fmt_ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


SHORT = [  # (start of a status, its table cell); the full status is in the detail tables
    ("skipped in --quick", "not in --quick"),
    ("skipped (not installed", "not installed"),
    ("skipped (compile failed", "compile failed"),
    ("skipped (run failed", "failed to run"),
    ("skipped (would keep", "would not fit"),
    ("skipped (predicted", "too slow"),
]


def short_status(row: dict) -> str:
    """A table cell for an implementation that was not timed."""
    status = row["status"]
    if status.startswith("failed check"):
        return f"**failed check** ({row['error']:.0e})"
    return next((cell for start, cell in SHORT if status.startswith(start)), status)


def by_case(rows: list[dict], section: str) -> dict[tuple, dict[str, dict]]:
    """{(d, L, N, dtype, threads): {label: row}} in the order the cases ran."""
    cases: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["section"] == section:
            cases[(r["d"], r["L"], r["N"], r["dtype"], r["threads"])][r["label"]] = r
    return cases


def ratio(row: dict, ref: dict | None) -> float | None:
    if row["status"] != "ok" or ref is None or ref["status"] != "ok":
        return None
    return row["median_s"] / ref["median_s"]


def cell(row: dict | None, ref: dict | None) -> str:
    """'time ms (peer/resode)', with a dagger when a window stayed noisy."""
    if row is None:
        return ""
    if row["status"] != "ok":
        return short_status(row)
    noisy = " †" if row.get("flagged") else ""
    r = ratio(row, ref)
    shown = f"{fmt_ms(row['median_s'])}{noisy}"
    return f"{shown} ({r:.1f}x)" if r is not None and row is not ref else shown


def gemm_rows(gemm: list[dict]) -> list[dict]:
    """The dgemm / sgemm rows of the machine section (results.json files written
    before the tanh rate was measured have no "op")."""
    return [g for g in gemm if g.get("op", "gemm") == "gemm"]


def peak_for(dtype: str, gemm: list[dict]) -> float | None:
    return next((g["gflops"] for g in gemm_rows(gemm) if g["dtype"] == dtype), None)


def tanh_rate(gemm: list[dict]) -> float | None:
    """resode's float64 tanh, values per second on one thread."""
    return next((g["values_per_s"] for g in gemm if g.get("op") == "tanh"), None)


def tanh_share(row: dict, gemm: list[dict]) -> str:
    """The part of resode's time that its d N L tanh values alone need, at the
    measured one-thread rate times the threads (float64: the kernel measured)."""
    rate = tanh_rate(gemm)
    if rate is None or row["dtype"] != "float64":
        return ""
    floor_s = row["d"] * row["N"] * row["L"] / (rate * row["threads"])
    return f"{100 * floor_s / row['median_s']:.0f} %"


def sizes_table(rows: list[dict], gemm: list[dict]) -> list[str]:
    head = ["d", "L", "N", "dtype", "resode GFLOP/s", "% of GEMM", "tanh share", *LABELS]
    lines = [table_row(head), table_row(["---"] * len(head))]
    for (d, L, N, dtype, _), impls in by_case(rows, "sizes").items():
        ref = impls.get(RESODE.label)
        ok = ref is not None and ref["status"] == "ok"
        peak = peak_for(dtype, gemm)
        gflops = f"{ref['gflops']:.1f}" if ok else ""
        share = f"{100 * ref['gflops'] / peak:.0f} %" if ok and peak else ""
        activation = tanh_share(ref, gemm) if ok else ""
        cells = [cell(impls.get(label), ref) for label in LABELS]
        lines.append(table_row([d, L, N, dtype, gflops, share, activation, *cells]))
    return lines


def detail_table(rows: list[dict], section: str, title: str) -> list[str]:
    if not any(r["section"] == section for r in rows):
        return []
    head = [
        "d",
        "L",
        "N",
        "dtype",
        "threads",
        "implementation",
        "status",
        "rel. error",
        "compile (s)",
        "first call (s)",
        "median (ms)",
        "peer / resode",
        "GFLOP/s",
        "windows x calls",
        "other CPU (max)",
        "retries",
        "flagged",
    ]
    lines = [f"### {title}", "", table_row(head), table_row(["---"] * len(head))]
    for (d, L, N, dtype, threads), impls in by_case(rows, section).items():
        ref = impls.get(RESODE.label)
        for label in LABELS:
            r = impls.get(label)
            if r is None:
                continue
            timed = r["status"] == "ok"
            rat = ratio(r, ref)
            error = r.get("error")
            lines.append(
                table_row(
                    [
                        d,
                        L,
                        N,
                        dtype,
                        threads,
                        label,
                        r["status"],
                        f"{error:.1e}" if error is not None else "",
                        f"{r['compile_s']:.1f}" if timed and r["compile_s"] is not None else "",
                        f"{r['first_s']:.3f}" if timed else "",
                        fmt_ms(r["median_s"]) if timed else "",
                        f"{rat:.2f}" if rat is not None else "",
                        f"{r['gflops']:.2f}" if timed else "",
                        f"{len(r['samples_s'])} x {r['calls_per_window']}" if timed else "",
                        f"{100 * r['other_cpu']:.1f} %" if timed else "",
                        r["retries"] if timed else "",
                        r["flagged"] if timed else "",
                    ]
                )
            )
    return [*lines, ""]


def n_scaling_table(rows: list[dict]) -> list[str]:
    labels = [label for label in LABELS if label != "torch.compile"]
    head = ["d", "L", "N", *labels]
    lines = [table_row(head), table_row(["---"] * len(head))]
    for (d, L, N, _, _), impls in by_case(rows, "n_scaling").items():
        ref = impls.get(RESODE.label)
        lines.append(table_row([d, L, N, *(cell(impls.get(label), ref) for label in labels)]))
    return lines


def thread_table(rows: list[dict]) -> list[str]:
    """Rows (d, L, N, implementation), a column per thread count, and the speed-up."""
    times: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in rows:
        if r["section"] == "threads":
            times[(r["d"], r["L"], r["N"], r["label"])][r["threads"]] = r
    counts = sorted({t for per in times.values() for t in per})
    head = ["d", "L", "N", "implementation", *(f"{t} thread(s) (ms)" for t in counts)]
    head.append(f"speed-up {counts[0]} -> {counts[-1]}" if len(counts) > 1 else "speed-up")
    lines = [table_row(head), table_row(["---"] * len(head))]
    order = {label: i for i, label in enumerate(LABELS)}
    for (d, L, N, label), per in sorted(times.items(), key=lambda kv: (kv[0][0], order[kv[0][3]])):
        cells = [cell(per.get(t), None) for t in counts]
        first, last = per.get(counts[0]), per.get(counts[-1])
        both = first and last and first["status"] == last["status"] == "ok"
        both = both and len(counts) > 1
        speedup = f"{first['median_s'] / last['median_s']:.2f}x" if both else ""
        lines.append(table_row([d, L, N, label, *cells, speedup]))
    return lines


def memory_table(rows: list[dict]) -> list[str]:
    mem = [r for r in rows if r["section"] == "memory"]
    ref = next((r for r in mem if r["label"] == RESODE.label and r["status"] == "ok"), None)
    head = ["implementation", "status", "peak RSS rise (MiB)", "rise / resode's", "call (s)"]
    lines = [table_row(head), table_row(["---"] * len(head))]
    for r in mem:
        ok = r["status"] == "ok"
        times = f"{r['rise_mib'] / ref['rise_mib']:.0f}x" if ok and ref and ref["rise_mib"] else ""
        lines.append(
            table_row(
                [
                    r["label"],
                    r["status"],
                    f"{r['rise_mib']:.1f}" if ok else "",
                    times,
                    f"{r['call_s']:.2f}" if ok else "",
                ]
            )
        )
    if ref:
        lines.append("")
        lines.append(
            f"Inputs (X, Y, V, b): {ref['inputs_mib']:.0f} MiB; one stored trajectory "
            f"(L+1 states, float64) would be {ref['trajectory_mib']:.0f} MiB. Peak read from "
            f"{ref['peak_source']}; each child was killed past {ref['limit_gib']:.1f} GiB."
        )
    return lines


def memory_heading(rows: list[dict]) -> str:
    r = next((r for r in rows if r["section"] == "memory"), None)
    where = f"N = {r['N']:,}, d = {r['d']}, L = {r['L']}, float64" if r else "not run"
    return f"## Memory: peak RSS rise of one loss+gradient, {where}"


def table_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def machine_lines(machine: dict, gemm: list[dict]) -> list[str]:
    build = machine["resode_build"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    peaks = ", ".join(
        f"{'dgemm' if g['dtype'] == 'float64' else 'sgemm'} {g['gflops']:.1f} GFLOP/s"
        for g in gemm_rows(gemm)
    )
    rate = tanh_rate(gemm)
    tanh = f"; resode's float64 tanh {rate / 1e9:.2f} G values/s on one thread" if rate else ""
    return [
        f"- CPU: {machine['cpu']}; {machine['logical_cpus']} logical CPUs, "
        f"{machine['physical_cores']} physical cores; {machine['memory_gib']} GiB",
        f"- threads used by every implementation: {machine['threads']}",
        f"- Python {machine['python']} on {machine['platform']}",
        f"- libraries: {versions}",
        f"- resode build: OpenMP {build.get('openmp')}, SIMD {build.get('simd')}, "
        f"{build.get('compiler')}, Eigen {build.get('eigen')}, ISA {build.get('isa')} "
        f"(built: {', '.join(build.get('isa_built', []))})",
        f"- machine limit (NumPy's BLAS, 2048 x 2048 products, median): {peaks}{tanh}",
    ]


METHOD = """\
Every time is the median over the timed windows of one implementation, after a
warm-up; all implementations of a case run interleaved (one window each per
round), so drift of the machine hits all alike. A window is enough calls to
last at least {min_window} s; the figure is the time per call. Before timing,
each peer's loss, dV and db are checked against resode's (norm-wise relative
error below 1e-10 in float64, 1e-4 in float32); one that fails is not timed.
"compile" is the first call minus the median warm call, for the peers that
compile (torch.compile, JAX, diffrax). GFLOP/s use the flop model 6 d^2 N L
for one loss+gradient; "% of GEMM" compares them with the measured dgemm /
sgemm rate. "tanh share" is the part of resode's time that evaluating its
d N L tanh values alone takes, at the rate of resode's own float64 tanh kernel
measured on one thread times the threads used: what is left for products,
elementwise passes and memory. "other CPU" is the CPU other processes used during a
window (system-wide CPU time minus this process's, over cores x wall time); a
window above 5 % was re-measured (up to {retries} times), and a dagger (†)
marks a time with a window that stayed above it. The problem: `inner` form,
tanh, `state` head, w1 = 0.1, w2 = 0.01, T = 1."""


def notes(results: dict) -> list[str]:
    """What the reader must know to trust the figures: skips, noise, the quick mode."""
    settings, rows = results["settings"], results["rows"]
    out = []
    if settings["quick"]:
        out.append(
            f"--quick: {settings['repeats']} timed windows of >= {settings['min_window']} s per "
            f"implementation and case; N up to {max(settings['scaling_n']):,} in the N scaling; "
            f"a peer predicted to take more than {settings['max_call_s']:.0f} s per call is "
            "skipped, and so are torch.compile where L > 64 or in float32, and torchdiffeq "
            "where L^2 N d > 5e8 (the tables say so); re-measuring noisy windows is capped at "
            f"{settings['retry_budget_s']:.0f} s in all."
        )
    # one line per implementation and reason, however many cases it applies to
    skipped = Counter(
        (r["label"], re.sub(r"predicted \d+ s", "predicted > limit", r["status"]))
        for r in rows
        if r["status"] != "ok"
    )
    out += [f"{label}, not timed in {n} case(s): {why}" for (label, why), n in skipped.items()]
    flagged = sum(r.get("flagged", 0) for r in rows)
    if flagged:
        out.append(
            f"{flagged} window(s) kept with other processes above 5 % of the CPU (marked †); "
            f"{results.get('remeasured_s', 0):.0f} s were spent re-measuring. Such figures "
            "are not trustworthy: run again on a quiet machine."
        )
    out.append(
        "Threads: the process is bound to the first N CPUs before any library loads; "
        "OMP_NUM_THREADS / OPENBLAS_NUM_THREADS = N, resode gets threads=N, torch "
        "set_num_threads(N), and XLA_FLAGS = '--xla_cpu_multi_thread_eigen=true "
        "intra_op_parallelism_threads=N' (the second token is not an XLA flag in jaxlib "
        "0.10 and has no effect; the CPU binding is what limits XLA); OMP_WAIT_POLICY = "
        "PASSIVE, so that idle OpenMP threads of one library do not starve the next. "
        "torch.compile starts from an empty Inductor cache (cold compile times)."
    )
    return out


def markdown(results: dict) -> str:
    rows, gemm, settings = results["rows"], results["gemm"], results["settings"]
    out = [
        "# resode benchmark report",
        "",
        f"`{results['command']}`, {results['started']}, "
        f"{'quick' if settings['quick'] else 'full'} mode, "
        f"total {results['total_s'] / 60:.1f} min.",
        "",
        "## Machine",
        "",
        *machine_lines(results["machine"], gemm),
        "",
        "## Method",
        "",
        METHOD.format(min_window=settings["min_window"], retries=settings["retries_per_window"]),
        "",
        "## Time per loss+gradient (ms; in brackets peer time / resode time)",
        "",
        *sizes_table(rows, gemm),
        "",
        "## Scaling in N (ms; peer / resode)",
        "",
        *n_scaling_table(rows),
        "",
        "## Scaling in threads (each count in a process bound to that many CPUs)",
        "",
        *thread_table(rows),
        "",
        memory_heading(rows),
        "",
        *memory_table(rows),
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in notes(results)),
        "",
        "## Every measurement",
        "",
        *detail_table(rows, "sizes", "The sizes of the benchmark issue"),
        *detail_table(rows, "n_scaling", "Scaling in N"),
        *detail_table(rows, "threads", "Scaling in threads"),
    ]
    return "\n".join(out)


def plot(results: dict, path: Path) -> None:
    """Time per loss+gradient against size: the issue's sizes and the N scaling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.5))
    plot_sizes(axes[0], rows)
    for ax, d in zip(axes[1:], (2, 64), strict=True):
        plot_n_scaling(ax, rows, d)
    legend = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        legend.update(zip(labels, handles, strict=True))
    ordered = [label for label in LABELS if label in legend]
    fig.legend([legend[k] for k in ordered], ordered, loc="lower center", ncol=7, frameon=False)
    fig.suptitle(
        f"resode and peers, {results['machine']['threads']} thread(s), float64 unless noted"
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sizes(ax, rows: list[dict]) -> None:
    """Against the flop model: float64 joined by lines, float32 as crosses."""
    for label in LABELS:
        for dtype, style in (("float64", "o-"), ("float32", "x")):
            points = sorted(
                (flops(r["d"], r["L"], r["N"]), 1e3 * r["median_s"])
                for r in rows
                if r["section"] == "sizes"
                and r["label"] == label
                and r["dtype"] == dtype
                and r["status"] == "ok"
            )
            if points:
                xs, ys = zip(*points, strict=True)
                name = label if dtype == "float64" else None
                ax.plot(xs, ys, style, label=name, color=COLORS[label], markersize=7)
    for (d, L, N, dtype, _), _ in by_case(rows, "sizes").items():
        if dtype == "float64":
            where = (flops(d, L, N), 0.02)  # x in data, y in axes coordinates
            ax.annotate(
                f"{d},{L},{N:g}", where, xycoords=("data", "axes fraction"), fontsize=6, rotation=90
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size: flop model 6 d^2 N L (labels d, L, N; crosses: float32)")
    ax.set_ylabel("time per loss+gradient (ms)")
    ax.set_title("the sizes of the benchmark issue")
    ax.grid(True, which="both", alpha=0.3)


def plot_n_scaling(ax, rows: list[dict], d: int) -> None:
    by_label: dict[str, list[tuple[int, float]]] = defaultdict(list)
    L = None
    for r in rows:
        if r["section"] == "n_scaling" and r["d"] == d and r["status"] == "ok":
            by_label[r["label"]].append((r["N"], 1e3 * r["median_s"]))
            L = r["L"]
    for label in LABELS:
        if by_label.get(label):
            xs, ys = zip(*sorted(by_label[label]), strict=True)
            ax.plot(xs, ys, "o-", label=label, color=COLORS[label])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (samples)")
    ax.set_ylabel("time per loss+gradient (ms)")
    ax.set_title(f"scaling in N, d = {d}, L = {L}")
    ax.grid(True, which="both", alpha=0.3)
