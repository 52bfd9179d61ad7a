"""The functional API: stateless functions of arrays (DESIGN.md section 2).

Each call converts and validates its arguments, then runs one C++ kernel with
the GIL released.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from . import _validation as v

__all__ = ["LossGrad", "build_info", "forward", "loss", "loss_and_grad", "trajectory"]


@dataclass(frozen=True, repr=False)
class LossGrad:
    """The cost J and its gradients, as returned by :func:`loss_and_grad`.

    ``dW`` and ``dmu`` are None for the ``state`` head; ``dX`` is None unless
    ``input_grad=True``. Arrays have the compute dtype.
    """

    loss: float
    dV: np.ndarray
    db: np.ndarray
    dW: np.ndarray | None = None
    dmu: np.ndarray | None = None
    dX: np.ndarray | None = None

    def __repr__(self) -> str:
        parts = [f"loss={self.loss!r}"]
        for name in ("dV", "db", "dW", "dmu", "dX"):
            a = getattr(self, name)
            if a is not None:
                parts.append(f"{name}=<{a.dtype} {a.shape}>")
        return f"LossGrad({', '.join(parts)})"


def forward(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    threads: int | None = None,
) -> np.ndarray:
    """Final states x_{L+1} of the forward Euler sweep, shape (N, d).

    ``x_{k+1} = x_k + h f_k(x_k)`` with ``h = T / L`` and ``L = len(V)``;
    ``f_k`` is the vector field named by ``form`` (see DESIGN.md).
    """
    a = v.network_args(X, V, b, T, form, activation, gamma, threads)
    return _core.forward(a.X, a.V, a.b, a.T, a.form, a.activation, a.gamma, a.threads, False)


def trajectory(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    threads: int | None = None,
) -> np.ndarray:
    """All states of the forward sweep, shape (L+1, N, d): ``[0]`` is X, ``[-1]`` the output."""
    a = v.network_args(X, V, b, T, form, activation, gamma, threads)
    v.check_fits(
        f"the trajectory ({len(a.V) + 1}, {a.X.shape[0]}, {a.X.shape[1]})",
        (len(a.V) + 1) * a.X.size * a.X.itemsize,
    )
    return _core.forward(a.X, a.V, a.b, a.T, a.form, a.activation, a.gamma, a.threads, True)


def _cost(
    X,
    Y,
    V,
    b,
    T,
    form,
    activation,
    head,
    W,
    mu,
    w1,
    w2,
    w_head,
    gamma,
    sample_weight,
    grad,
    input_grad,
    threads,
    checkpoint_every=None,
):
    net = v.network_args(X, V, b, T, form, activation, gamma, threads)
    c = v.cost_args(net, Y, head, W, mu, w1, w2, w_head, sample_weight)
    every = v.checkpoint_every(checkpoint_every, len(net.V))
    if grad:
        _check_gradient_workspace(net, every)
    return _core.cost(
        net.X,
        c.Y,
        net.V,
        net.b,
        c.W,
        c.mu,
        c.sample_weight,
        net.T,
        net.form,
        net.activation,
        c.head,
        c.w1,
        c.w2,
        c.w_head,
        net.gamma,
        grad,
        input_grad,
        net.threads,
        every,
    )


def _check_gradient_workspace(net, every: int) -> None:
    """MemoryError before allocating per-thread block buffers that cannot fit.

    Each thread keeps, per block, the states and the forms' caches of the layers it
    stores (all L, or about L / c + 2c with checkpoint_every = c).
    """
    n, d = net.X.shape
    L = len(net.V)
    cols = min(_core.block_size(d, net.X.dtype), -(-max(n, 1) // 16) * 16)
    stored = L if every == 0 else -(-L // every) + 2 * min(every, L)
    per_thread = stored * 3 * d * cols * net.X.itemsize  # states + up to 2 cached arrays
    if per_thread * (net.threads or os.cpu_count() or 1) < 256 * 2**20:
        return  # the usual case: not worth reading /proc on every training step
    threads = net.threads or build_info()["threads"]
    threads = min(threads, -(-max(n, 1) // _core.block_size(d, net.X.dtype)))
    nbytes = threads * per_thread
    try:
        v.check_fits(f"the gradient workspace ({threads} threads x {stored} stored states)", nbytes)
    except MemoryError as exc:
        raise MemoryError(f"{exc}; pass checkpoint_every='sqrt' to store about 3 sqrt(L)") from None


def loss(
    X: Any,
    Y: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    head: str = "state",
    W: Any = None,
    mu: Any = None,
    w1: float = 0.0,
    w2: float = 0.0,
    w_head: float = 0.0,
    gamma: float = 0.0,
    sample_weight: Any = None,
    threads: int | None = None,
) -> float:
    """The cost J (a sum over samples) without gradients; stores no trajectory.

    Arguments as for :func:`loss_and_grad`.
    """
    result = _cost(
        X,
        Y,
        V,
        b,
        T,
        form,
        activation,
        head,
        W,
        mu,
        w1,
        w2,
        w_head,
        gamma,
        sample_weight,
        False,
        False,
        threads,
    )
    return float(result[0])


def loss_and_grad(
    X: Any,
    Y: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    head: str = "state",
    W: Any = None,
    mu: Any = None,
    w1: float = 0.0,
    w2: float = 0.0,
    w_head: float = 0.0,
    gamma: float = 0.0,
    sample_weight: Any = None,
    input_grad: bool = False,
    threads: int | None = None,
    checkpoint_every: int | str | None = None,
) -> LossGrad:
    """The cost J and its exact gradients (the discrete adjoint, DESIGN.md section 1).

    Parameters
    ----------
    X : (N, d) inputs; float32 or float64 sets the compute dtype.
    Y : targets: (N, d) states for ``head='state'``, (N, m) for ``'linear'``,
        (N,) integer labels for ``'softmax'`` (in [0, C)) and ``'logistic'`` (0 / 1).
    V, b : (L, d, d) and (L, d) layer parameters.
    head : ``'state'``, ``'linear'``, ``'softmax'`` or ``'logistic'``.
    W, mu : head parameters (m, d) and (m,); None for ``'state'``.
    w1 : weight of the running cost (state head only).
    w2, w_head : Tikhonov weights of the layers and of the head.
    sample_weight : (N,) non-negative weights of each sample's cost terms.
    input_grad : also return dJ/dX.
    threads : OpenMP threads for this call (None: all, or OMP_NUM_THREADS).
    checkpoint_every : None stores every state of a block for the backward sweep
        (memory per block grows like L); an int c stores every c-th state and
        recomputes the others segment by segment (about L/c + 2c states);
        ``"sqrt"`` takes c = ceil(sqrt(L)). The results are bitwise the same; the
        forward sweep runs about twice.
    """
    input_grad = v.flag("input_grad", input_grad)
    value, dV, db, dW, dmu, dX = _cost(
        X,
        Y,
        V,
        b,
        T,
        form,
        activation,
        head,
        W,
        mu,
        w1,
        w2,
        w_head,
        gamma,
        sample_weight,
        True,
        input_grad,
        threads,
        checkpoint_every,
    )
    return LossGrad(float(value), dV, db, dW, dmu, dX)


def build_info() -> dict[str, Any]:
    """What this build of resode is: version, OpenMP, default threads, SIMD, compiler,
    and the OpenMP wait policy in effect."""
    return {**_core.build_info(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
