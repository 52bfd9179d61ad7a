"""The implementations that are timed: resode itself and its peers, one module each.

Each module has a ``build(problem, threads)`` that converts the problem's arrays
to its library's types once (not timed) and returns a function of no arguments
that computes one loss+gradient and returns a ``problem.Grad`` of NumPy values.
This registry says what each needs, so that a missing library is reported as
"skipped (not installed)" without importing anything heavy.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType


def always(d: int, L: int, N: int, dtype: str) -> bool:
    return True


def backward_copies_fit(d: int, L: int, N: int, dtype: str) -> bool:
    """torchdiffeq writes each step into a preallocated (L+1, N, d) solution in place,
    and autograd's backward of each write copies the whole gradient: O(L^2 N d)."""
    return L * L * N * d <= 5e8


def compile_fits(d: int, L: int, N: int, dtype: str) -> bool:
    """Dynamo unrolls the layers: a cold compile takes roughly 20 s + 0.3 s per layer."""
    return L <= 64 and dtype == "float64"


@dataclass(frozen=True)
class Peer:
    """One implementation and what the runner needs to know before running it."""

    key: str  # module name under bench/peers/
    label: str  # name in the report
    requires: tuple[str, ...]  # importable distributions it needs
    stored_arrays: float  # N x d arrays it keeps per layer, to predict its memory
    compiles: bool = False  # its first call includes a compilation
    thread_scaling: bool = True  # cheap enough to run again for the thread scaling
    # where --quick runs it (the slowest peers only at the smaller cases), and why
    quick_runs: Callable[[int, int, int, str], bool] = always
    quick_skip: str = ""

    def missing(self) -> str | None:
        """None when installed, else the reason it is skipped."""
        absent = [name for name in self.requires if importlib.util.find_spec(name) is None]
        return f"skipped (not installed: {', '.join(absent)})" if absent else None

    def module(self) -> ModuleType:
        return importlib.import_module(f"peers.{self.key}")


RESODE = Peer("resode_native", "resode", ("resode",), stored_arrays=0.0)
PEERS = [
    RESODE,
    Peer("numpy_adjoint", "NumPy adjoint", ("numpy",), stored_arrays=2.0),
    Peer("torch_eager", "torch eager", ("torch",), stored_arrays=4.0),
    Peer(
        "torch_compile",
        "torch.compile",
        ("torch",),
        stored_arrays=3.0,
        compiles=True,
        thread_scaling=False,
        quick_runs=compile_fits,
        quick_skip="L > 64 or float32: each cold compile takes 30 s to minutes",
    ),
    Peer("jax_scan", "JAX scan", ("jax", "jaxlib"), stored_arrays=3.0, compiles=True),
    Peer(
        "torchdiffeq_euler",
        "torchdiffeq",
        ("torch", "torchdiffeq"),
        stored_arrays=5.0,
        thread_scaling=False,
        quick_runs=backward_copies_fit,
        quick_skip="L^2 N d > 5e8: its backward is O(L^2 N d)",
    ),
    Peer(
        "diffrax_euler",
        "diffrax",
        ("jax", "jaxlib", "diffrax", "equinox"),
        stored_arrays=3.0,
        compiles=True,
        thread_scaling=False,
    ),
]
BY_KEY = {peer.key: peer for peer in PEERS}
