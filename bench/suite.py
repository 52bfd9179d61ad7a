"""The sections of the benchmark: sizes, scaling in N and in threads, memory, GEMM peak.

Each section produces rows (plain dicts, saved as JSON) that report.py turns
into tables and plots. One *case* is a problem size and dtype; all
implementations of a case are checked against resode, then timed interleaved.
"""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import memory
import numpy as np
import psutil
from measure import LoadPolicy, time_interleaved
from peers import PEERS, RESODE, Peer
from problem import (
    FLOAT32_SIZES,
    MEMORY_SIZE,
    SCALING_N,
    SCALING_SHAPES,
    SIZES,
    THREAD_SCALING_N,
    TOLERANCE,
    LossGradFn,
    flops,
    make_problem,
    max_relative_error,
)

import resode

BENCH = Path(__file__).resolve().parent
TANH_VALUES = 32768


@dataclass
class Settings:
    """How long the run may take; --quick trades repeats and the largest cases for time."""

    quick: bool
    threads: int
    repeats: int
    min_window: float  # seconds a timed window lasts at least
    max_call_s: float  # skip a peer predicted to take longer per call
    scaling_n: list[int]
    thread_counts: list[int]
    memory_n: int = MEMORY_SIZE[2]
    memory_skip: dict[str, str] = field(default_factory=dict)  # peer key -> reason
    memory_limit_gib: float = 16.0  # per memory subprocess, on a 24 GiB machine
    retries_per_window: int = 3
    retry_budget_s: float = math.inf

    @classmethod
    def make(cls, quick: bool, threads: int) -> Settings:
        if quick:
            return cls(
                quick=True,
                threads=threads,
                repeats=3,
                min_window=0.2,
                max_call_s=2.0,
                scaling_n=[n for n in SCALING_N if n <= 100_000],
                thread_counts=[1, 2],
                memory_n=200_000,
                memory_skip={
                    "torch_compile": "skipped in --quick (a minute of compiling)",
                    "torchdiffeq_euler": "skipped in --quick (minutes: see its O(L^2) backward)",
                },
                retries_per_window=2,
                retry_budget_s=30.0,
            )
        return cls(
            quick=False,
            threads=threads,
            repeats=7,
            min_window=1.0,
            max_call_s=60.0,
            scaling_n=list(SCALING_N),
            thread_counts=[1, 2],
            retry_budget_s=600.0,
        )

    def policy(self) -> LoadPolicy:
        return LoadPolicy(
            retries_per_window=self.retries_per_window, retry_budget_s=self.retry_budget_s
        )


@dataclass
class History:
    """What was measured so far, to predict whether a larger case is worth running.

    A peer's time is predicted as resode's time at the new case times the
    peer / resode ratio at the last case where both ran: the ratio changes far
    less from case to case than the times do.
    """

    ratios: dict[str, float] = field(default_factory=dict)  # key -> peer / resode

    def predicted_call_s(self, key: str, resode_s: float) -> float:
        return self.ratios.get(key, 0.0) * resode_s

    def record(self, key: str, seconds: float, resode_s: float) -> None:
        if resode_s >= 0.02:  # below, per-call overheads make the ratio meaningless
            self.ratios[key] = seconds / resode_s


STARTED = time.monotonic()


def log(message: str) -> None:
    elapsed = time.monotonic() - STARTED
    print(f"{elapsed // 60:3.0f}:{elapsed % 60:02.0f} {message}", file=sys.stderr, flush=True)


def reason_to_skip(
    peer: Peer, case: dict, settings: Settings, history: History, resode_s: float
) -> str | None:
    """Why this peer is not run at this case, or None (resode's first call took resode_s)."""
    d, L, N = case["d"], case["L"], case["N"]
    if peer is RESODE:
        return None  # the reference is always run
    if settings.quick and not peer.quick_runs(d, L, N, case["dtype"]):
        return f"skipped in --quick ({peer.quick_skip})"
    itemsize = np.dtype(case["dtype"]).itemsize
    need = (peer.stored_arrays * L + 4) * N * d * itemsize  # kept states + X, Y, copies
    if need > 0.5 * psutil.virtual_memory().available:
        return f"skipped (would keep ~{need / 2**30:.0f} GiB of states)"
    call = history.predicted_call_s(peer.key, resode_s)
    if call > settings.max_call_s:
        return f"skipped (predicted {call:.0f} s per call)"
    return None


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:150] if text else ''}"


def row_for(case: dict, peer: Peer, status: str, **values) -> dict:
    return {**case, "key": peer.key, "label": peer.label, "status": status, **values}


@dataclass
class Checked:
    """A peer after its first call: ready to time (fn set) or why it is not."""

    fn: LossGradFn | None = None
    first_s: float = math.nan  # the first call, compilation included
    error: float | None = None  # worst relative error against resode
    status: str = "ok"


def prepare(peer: Peer, problem, ref, threads: int) -> Checked:
    """Build a peer, run it once and check its loss and gradients against resode's."""
    try:
        fn = peer.module().build(problem, threads)
        start = time.perf_counter()
        got = fn()
        first = time.perf_counter() - start
    except Exception as exc:  # any failure of a peer is reported, never fatal
        stage = "compile" if peer.compiles else "run"
        return Checked(status=f"skipped ({stage} failed: {short_error(exc)})")
    error = max_relative_error(got, ref)
    if not error <= TOLERANCE[problem.dtype]:  # also catches NaN
        return Checked(error=error, status=f"failed check (rel. error {error:.1e})")
    return Checked(fn, first, error)


def run_case(case: dict, peers: list[Peer], settings: Settings, policy, history) -> list[dict]:
    """Check every available peer against resode, then time them interleaved."""
    d, L, N, dtype = case["d"], case["L"], case["N"], case["dtype"]
    log(f"[{case['section']}] d={d} L={L} N={N} {dtype} threads={settings.threads}")
    problem = make_problem(d, L, N, dtype)
    ref_fn = RESODE.module().build(problem, settings.threads)
    start = time.perf_counter()
    ref = ref_fn()
    resode_s = time.perf_counter() - start
    rows, checked = [], {}
    for peer in peers:
        skip = peer.missing() or reason_to_skip(peer, case, settings, history, resode_s)
        if skip:
            rows.append(row_for(case, peer, skip))
            log(f"  {peer.label}: {skip}")
            continue
        result = prepare(peer, problem, ref, settings.threads)
        if result.fn is None:
            rows.append(row_for(case, peer, result.status, error=result.error))
            log(f"  {peer.label}: {result.status}")
            continue
        checked[peer.key] = result
    fns = {key: c.fn for key, c in checked.items()}
    # the checking call warmed up every peer; a slow one needs no other warm-up, but a
    # fast one gets another call, as its first (one-off costs) would misjudge a window
    warm = {
        p.key: checked[p.key].first_s
        for p in peers
        if p.key in checked and not p.compiles and checked[p.key].first_s >= 0.5
    }
    timings = time_interleaved(fns, settings.repeats, settings.min_window, policy, warm)
    resode_median = timings[RESODE.key].median if RESODE.key in timings else math.nan
    for peer in peers:
        if peer.key not in timings:
            continue
        t, first, error = timings[peer.key], checked[peer.key].first_s, checked[peer.key].error
        compile_s = max(0.0, first - t.median) if peer.compiles else None
        history.record(peer.key, t.median, resode_median)
        rows.append(
            row_for(
                case,
                peer,
                "ok",
                error=error,
                first_s=first,
                compile_s=compile_s,
                median_s=t.median,
                samples_s=[w.seconds_per_call for w in t.windows],
                samples_other_cpu=[w.other_cpu for w in t.windows],
                calls_per_window=t.calls_per_window,
                other_cpu=t.max_other_cpu,
                retries=t.retries,
                flagged=t.flagged,
                gflops=flops(d, L, N) / t.median / 1e9,
            )
        )
        log(f"  {peer.label}: {1e3 * t.median:.2f} ms, other CPU {100 * t.max_other_cpu:.0f} %")
    del problem, fns, checked, ref_fn
    gc.collect()
    return rows


def case(section: str, d: int, L: int, N: int, dtype: str, threads: int) -> dict:
    return {"section": section, "d": d, "L": L, "N": N, "dtype": dtype, "threads": threads}


def sizes_section(settings: Settings, policy, history) -> list[dict]:
    """The sizes of the benchmark issue, float64, and float32 at the marked ones."""
    cases = [case("sizes", *s, "float64", settings.threads) for s in SIZES]
    cases += [case("sizes", *s, "float32", settings.threads) for s in FLOAT32_SIZES]
    return [row for c in cases for row in run_case(c, PEERS, settings, policy, history)]


def n_scaling_section(settings: Settings, policy, history, size_rows: list[dict]) -> list[dict]:
    """Time against N at d = 2 and d = 64; torch.compile is left out (a compile per N).

    A case that the sizes section has run already is taken from its rows. In
    --quick, a case where even resode is predicted (from the previous N) to
    take more than max_call_s per call is left out whole.
    """
    peers = [p for p in PEERS if p.key != "torch_compile"]
    keys = {p.key for p in peers}
    rows = []
    for d, L in SCALING_SHAPES:
        resode_s, last_n = 0.0, 1
        for N in settings.scaling_n:
            c = case("n_scaling", d, L, N, "float64", settings.threads)
            done = [
                {**r, "section": "n_scaling"}
                for r in size_rows
                if r["key"] in keys and all(r[k] == c[k] for k in ("d", "L", "N", "dtype"))
            ]
            predicted = resode_s * N / last_n
            if settings.quick and predicted > settings.max_call_s and not done:
                why = f"skipped in --quick (resode predicted {predicted:.0f} s per call)"
                rows += [row_for(c, peer, why) for peer in peers]
                log(f"[n_scaling] d={d} L={L} N={N}: {why}")
                continue
            case_rows = done or run_case(c, peers, settings, policy, history)
            resode_s = next(r for r in case_rows if r["key"] == RESODE.key)["median_s"]
            last_n = N
            rows += case_rows
    return rows


def thread_scaling_cases(settings: Settings, policy, history) -> list[dict]:
    """The thread-scaling cases at this process's thread count (run in a child)."""
    peers = [p for p in PEERS if p.thread_scaling]
    rows = []
    for d, L in SCALING_SHAPES:
        c = case("threads", d, L, THREAD_SCALING_N[d], "float64", settings.threads)
        rows += run_case(c, peers, settings, policy, history)
    return rows


def thread_scaling_section(settings: Settings, n_rows: list[dict]) -> list[dict]:
    """Each thread count in a fresh process bound to that many CPUs.

    Thread pools (XLA's, OpenBLAS's) are sized at start-up, so another thread
    count needs another process; this process's own count is taken from the
    N-scaling rows of the same sizes.
    """
    rows = []
    cheap = {p.key for p in PEERS if p.thread_scaling}
    for threads in settings.thread_counts:
        if threads == settings.threads:
            same = [
                {**r, "section": "threads"}
                for r in n_rows
                if r["key"] in cheap and r["N"] == THREAD_SCALING_N.get(r["d"])
            ]
            rows += same
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rows.json"
            command = [sys.executable, str(BENCH / "run.py"), "--threads", str(threads)]
            command += ["--thread-scaling-child", str(out), *(["--quick"] * settings.quick)]
            log(f"[threads] child process with {threads} thread(s)")
            done = subprocess.run(command, check=False)
            if done.returncode == 0:
                rows += json.loads(out.read_text())
            else:
                log(f"  thread-scaling child failed with exit code {done.returncode}")
    return rows


def memory_section(settings: Settings) -> list[dict]:
    """Peak-RSS rise of one loss+gradient at N = 2e6, each peer in its own subprocess."""
    d, L, _ = MEMORY_SIZE
    N = settings.memory_n
    rows = []
    for peer in PEERS:
        c = case("memory", d, L, N, "float64", settings.threads)
        reason = peer.missing() or settings.memory_skip.get(peer.key)
        if reason:
            rows.append(row_for(c, peer, reason))
            continue
        log(f"[memory] {peer.label}")
        result = memory.measure(peer.key, d, L, N, settings.threads, settings.memory_limit_gib)
        rows.append(row_for(c, peer, result.pop("status"), **result))
        log(f"  {rows[-1]['status']} {result}")
    return rows


def gemm_section(settings: Settings, policy) -> list[dict]:
    """The machine's limits: dgemm and sgemm GFLOP/s with NumPy's BLAS at n = 2048,
    and resode's float64 tanh kernel in values per second on one thread."""
    n = 2048
    rng = np.random.default_rng(0)
    fns = {}
    for dtype in ("float64", "float32"):
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        out = np.empty_like(a)
        fns[dtype] = lambda a=a, b=b, out=out: np.matmul(a, b, out=out)
    # 32768 values (256 KiB, in L2 as a block's slab is): the rate of the
    # arithmetic, not of memory. The kernel runs on the calling thread only.
    x = rng.uniform(-3.0, 3.0, TANH_VALUES)
    fns["tanh"] = lambda: resode._core.activation(x, "tanh")
    log(f"[gemm] n={n}, tanh over {TANH_VALUES} values")
    timings = time_interleaved(fns, settings.repeats, settings.min_window, policy)
    rows = []
    for key, t in timings.items():
        row = {
            "section": "gemm",
            "threads": settings.threads,
            "median_s": t.median,
            "other_cpu": t.max_other_cpu,
            "flagged": t.flagged,
        }
        if key == "tanh":
            row |= {"dtype": "float64", "op": "tanh", "values_per_s": TANH_VALUES / t.median}
        else:
            row |= {"dtype": key, "op": "gemm", "n": n, "gflops": 2.0 * n**3 / t.median / 1e9}
        rows.append(row)
    return rows
