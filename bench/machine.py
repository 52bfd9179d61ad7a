"""The machine: thread set-up for every library, compile caches, and its description.

pin_threads must run before NumPy, PyTorch or JAX is imported: OpenBLAS and
XLA size their thread pools when they load.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import platform
import shutil
import tempfile

# distributions whose versions go into the report
VERSIONED = ["resode", "numpy", "torch", "jax", "jaxlib", "diffrax", "equinox", "torchdiffeq"]


def pin_threads(threads: int) -> None:
    """Make every library use `threads` threads.

    - The process is bound to the first `threads` CPUs (when that is fewer than
      it has), so that libraries which size their pools from the CPUs they may
      run on (XLA's Eigen pool, OpenBLAS, OpenMP) see exactly that many.
    - OMP_NUM_THREADS and OPENBLAS_NUM_THREADS say the same to OpenMP (resode's
      default; resode also gets threads= on every call) and NumPy's BLAS;
      torch.set_num_threads is called by the torch peers.
    - OMP_WAIT_POLICY=PASSIVE (unless set): resode and torch each bring an
      OpenMP runtime, and XLA an Eigen pool; with the default spin-waiting, one
      runtime's idle threads spinning after its call starved the next
      implementation's threads on this 2-core machine (torch eager at N = 1000
      ran 10-100x slower when interleaved under load).
    - XLA_FLAGS gets `--xla_cpu_multi_thread_eigen=true
      intra_op_parallelism_threads=N` as the benchmark issue asks. With jaxlib
      0.10 the second token is not an XLA flag and is ignored (XLA rejects an
      unknown `--` flag but skips this bare token), so the CPU binding is what
      actually limits XLA.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    xla = f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla}".strip()


def cold_compile_caches() -> None:
    """Give Inductor an empty cache directory, so that compile times are cold.

    Its on-disk caches would otherwise make a second run's compile take 1 s
    instead of 30. Child processes inherit the directory.
    """
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        path = tempfile.mkdtemp(prefix="resode-bench-inductor-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = path


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Installed versions of the libraries in the report ('not installed' otherwise)."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def describe(threads: int) -> dict:
    """CPU, cores, threads used, memory, Python and library versions, resode's build."""
    import psutil

    import resode

    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "threads": threads,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions(),
        "resode_build": resode.build_info(),
    }
