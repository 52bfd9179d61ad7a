"""Peak-RSS rise of one loss+gradient call, each implementation in a fresh subprocess.

The child first runs the implementation on a small problem of the same d and L
(libraries loaded, JIT code paths and allocator pools set up), then allocates
the full inputs, records its RSS, resets the kernel's peak-RSS mark
(/proc/self/clear_refs) and runs build + one call at full size. The figure is
the peak RSS during that call minus the RSS just before it: what the
implementation needs beyond its inputs (a JIT peer's recompile for the new N
is included). The parent watches the child's RSS and kills it past a limit, so
that a peer that cannot fit never makes the machine swap.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peers import BY_KEY  # the registry alone: no heavy import before pin_threads

BENCH = Path(__file__).resolve().parent
WARM_N = 1000
POLL_S = 0.02


def status_kb(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM), in kB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def loss_and_grad_fn(key: str, problem, threads: int, input_grad: bool):
    """The call to measure; resode alone can also return the input gradient."""
    if input_grad and key == "resode_native":
        from problem import RESODE_COST

        import resode

        p = problem
        return lambda: resode.loss_and_grad(
            p.X, p.Y, p.V, p.b, **RESODE_COST, threads=threads, input_grad=True
        )
    return BY_KEY[key].module().build(problem, threads)


def child(key: str, d: int, L: int, N: int, threads: int, input_grad: bool) -> None:
    """Runs in the subprocess: prints one JSON line with the RSS figures (MiB)."""
    import machine

    machine.pin_threads(threads)
    from problem import make_problem

    loss_and_grad_fn(key, make_problem(d, L, WARM_N), threads, input_grad)()
    problem = make_problem(d, L, N)
    gc.collect()
    before_kb = status_kb("VmRSS")
    hwm_reset = reset_peak_rss()
    start = time.perf_counter()
    loss_and_grad_fn(key, problem, threads, input_grad)()
    seconds = time.perf_counter() - start
    # ru_maxrss is the peak since start: right too, as the warm-up was small
    peak_kb = (
        status_kb("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    inputs = sum(a.nbytes for a in (problem.X, problem.Y, problem.V, problem.b))
    print(
        json.dumps(
            {
                "rise_mib": max(0, peak_kb - before_kb) / 1024,
                "before_mib": before_kb / 1024,
                "inputs_mib": inputs / 2**20,
                "trajectory_mib": (L + 1) * N * d * 8 / 2**20,
                "call_s": seconds,
                "peak_source": "VmHWM" if hwm_reset else "ru_maxrss",
            }
        )
    )


def watch(process, limit_bytes: float, timeout_s: float) -> str | None:
    """Poll the child's RSS; kill it past the limit or the timeout. Why it was killed."""
    import psutil

    watched = psutil.Process(process.pid)
    start = time.monotonic()
    while process.poll() is None:
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if rss > limit_bytes or psutil.virtual_memory().available < 1 * 2**30:
            process.kill()
            return f"did not fit (killed at {rss / 2**30:.1f} GiB)"
        if time.monotonic() - start > timeout_s:
            process.kill()
            return f"timed out (> {timeout_s:.0f} s)"
        time.sleep(POLL_S)
    return None


def measure(
    key: str,
    d: int,
    L: int,
    N: int,
    threads: int,
    limit_gib: float = 16.0,
    input_grad: bool = False,
    timeout_s: float = 900.0,
) -> dict:
    """Run the child for one implementation; a dict with 'status' and the child's figures."""
    import psutil

    limit = min(limit_gib * 2**30, 0.8 * psutil.virtual_memory().available)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", key]
    command += ["--samples", str(N), "--dim", str(d), "--layers", str(L), "--threads", str(threads)]
    command += ["--input-grad"] if input_grad else []
    # files, not pipes: a chatty child must never block on a full pipe while we poll
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        killed = watch(process, limit, timeout_s)
        process.wait()
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        if killed:
            return {"status": killed, "limit_gib": limit / 2**30}
        if process.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
            reason = "did not fit" if "MemoryError" in tail[0] else "failed"
            return {"status": f"{reason} ({tail[0][:150]})", "limit_gib": limit / 2**30}
    return {"status": "ok", "limit_gib": limit / 2**30, **json.loads(lines[-1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=2_000_000)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--layers", type=int, default=100)
    p.add_argument("--impl", default="resode_native", choices=[*BY_KEY, "all"])
    p.add_argument("--threads", type=int, default=None, help="default: all CPUs")
    p.add_argument("--limit-gib", type=float, default=16.0)
    p.add_argument("--input-grad", action="store_true", help="resode only: also dX")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    threads = a.threads or len(os.sched_getaffinity(0))
    if a.child:
        child(a.child, a.dim, a.layers, a.samples, threads, a.input_grad)
        return
    keys = list(BY_KEY) if a.impl == "all" else [a.impl]
    for key in keys:
        r = measure(key, a.dim, a.layers, a.samples, threads, a.limit_gib, a.input_grad)
        head = f"{BY_KEY[key].label}: N={a.samples} d={a.dim} L={a.layers}"
        if r["status"] != "ok":
            print(f"{head}: {r['status']}")
            continue
        print(
            f"{head}: inputs {r['inputs_mib']:.1f} MiB, peak RSS rise {r['rise_mib']:.1f} MiB "
            f"(a stored trajectory would be {r['trajectory_mib']:.0f} MiB), "
            f"call {r['call_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
