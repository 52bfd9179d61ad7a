"""The benchmark problem: one definition shared by resode and every peer.

The cost is the one of the benchmark issue: `inner` form, `tanh`, `state` head,
w1 = 0.1, w2 = 0.01, T = 1. Every implementation gets the same NumPy arrays and
returns the same three things (J summed over samples, dJ/dV, dJ/db).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

T = 1.0
W1 = 0.1
W2 = 0.01
# keyword arguments of resode.loss_and_grad for this cost
RESODE_COST = {"T": T, "form": "inner", "activation": "tanh", "head": "state", "w1": W1, "w2": W2}

# (d, L, N) of the benchmark issue; float32 is timed as well at the marked ones
SIZES = [
    (2, 50, 1000),
    (2, 100, 100_000),
    (4, 200, 20_000),
    (16, 100, 10_000),
    (64, 64, 10_000),
    (256, 32, 4096),
]
FLOAT32_SIZES = [(2, 100, 100_000), (64, 64, 10_000)]
# scaling in N at these (d, L); thread scaling at the middle N
SCALING_SHAPES = [(2, 100), (64, 64)]
SCALING_N = [1000, 10_000, 100_000, 1_000_000]
THREAD_SCALING_N = {2: 100_000, 64: 10_000}
MEMORY_SIZE = (2, 100, 2_000_000)
# relative error allowed between a peer and resode, per compute dtype
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


class Grad(NamedTuple):
    """J summed over samples and its gradients, as NumPy values."""

    loss: float
    dV: np.ndarray
    db: np.ndarray


# what a peer's build() returns: one loss+gradient evaluation per call
LossGradFn = Callable[[], Grad]


@dataclass(frozen=True)
class Problem:
    """The arrays of one benchmark case; samples are rows (N, d)."""

    X: np.ndarray
    Y: np.ndarray
    V: np.ndarray
    b: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(d, L, N)."""
        return self.X.shape[1], self.V.shape[0], self.X.shape[0]

    @property
    def dtype(self) -> str:
        return self.X.dtype.name

    @property
    def h(self) -> float:
        return T / self.V.shape[0]


def make_problem(d: int, L: int, N: int, dtype: str = "float64", seed: int = 0) -> Problem:
    """Random inputs and targets; V scaled by 1/sqrt(d) so that the states stay O(1)."""
    rng = np.random.default_rng(seed)
    arrays = (
        rng.standard_normal((N, d)),
        rng.standard_normal((N, d)),
        rng.standard_normal((L, d, d)) / np.sqrt(d),
        0.1 * rng.standard_normal((L, d)),
    )
    return Problem(*(np.ascontiguousarray(a, dtype=dtype) for a in arrays))


def flops(d: int, L: int, N: int) -> float:
    """The flop model of one loss+gradient: three d x d by d x N products per layer."""
    return 6.0 * d * d * N * L


def relative_error(got, ref) -> float:
    """||got - ref|| / ||ref|| (norm-wise; an absolute error when ref is zero)."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = np.linalg.norm(ref)
    return float(np.linalg.norm(got - ref) / (scale if scale > 0 else 1.0))


def max_relative_error(got: Grad, ref: Grad) -> float:
    """The worst of the loss, dV and db relative errors."""
    return max(relative_error(a, r) for a, r in zip(got, ref, strict=True))
