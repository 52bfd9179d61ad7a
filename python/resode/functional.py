"""The functional API: stateless functions of arrays (docs/functional.md).

Each call converts and validates its arguments, then runs one C++ kernel with
the GIL released.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from . import _validation as v

__all__ = [
    "LossGrad",
    "build_info",
    "costates",
    "forward",
    "input_jacobian",
    "jvp",
    "layer_hamiltonian",
    "loss",
    "loss_and_grad",
    "trajectory",
    "vjp",
]


@dataclass(frozen=True, repr=False)
class LossGrad:
    """The cost J and its gradients, as returned by :func:`loss_and_grad`.

    ``dW`` and ``dmu`` are None for the ``state`` head; ``dX`` is None unless
    ``input_grad=True``; ``dK0`` and ``dc0`` are a model's opening layer's
    (:meth:`resode.ResNetODE.loss_and_grad`), else None. Arrays have the
    compute dtype.
    """

    loss: float
    dV: np.ndarray
    db: np.ndarray
    dW: np.ndarray | None = None
    dmu: np.ndarray | None = None
    dX: np.ndarray | None = None
    dK0: np.ndarray | None = None
    dc0: np.ndarray | None = None

    def __repr__(self) -> str:
        parts = [f"loss={self.loss!r}"]
        for name in ("dV", "db", "dW", "dmu", "dX", "dK0", "dc0"):
            a = getattr(self, name)
            if a is not None:
                parts.append(f"{name}=<{a.dtype} {a.shape}>")
        return f"LossGrad({', '.join(parts)})"


_NETWORK_DOC = """
    form, activation, gamma
        the vector field f_k (docs/mathematics.md; ``resnet_d``
        takes V (L, 2, d, d) = [K, A] and b (L, 2, d) = [b, c]; ``hamiltonian``
        V (L, 2, d/2, d/2) = [K1, K2], ``hamiltonian_hr`` V (L, d/2, d/2); both
        b (L, 2, d/2); see docs/structure.md).
    scheme
        how a layer integrates f_k over h: ``'euler'`` (the ResNet),
        ``'heun'``, ``'rk4'``, or for the Hamiltonian forms ``'symplectic_euler'``
        and ``'verlet'``.
    project
        None, or ``'relu'`` for the post-activation ResNet
        x_{k+1} = relu(Phi_k(x_k)).
    n_layers
        None (L = len(V)), or L > len(V): parameter sharing in time,
        groups of m = ceil(L / len(V)) consecutive layers share V[g], b[g].
    threads
        OpenMP threads for this call (None: all, or OMP_NUM_THREADS)."""


def _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers):
    return v.network_args(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)


def forward(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Final states x_{L+1} of the forward sweep, shape (N, d).

    ``x_{k+1} = x_k + h f_k(x_k)`` (scheme ``'euler'``) with ``h = T / L``;
    ``f_k`` is the vector field named by ``form`` (docs/mathematics.md).
    """
    a = _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)
    return _core.forward(a.X, a.V, a.b, a.options, a.threads, False)


def trajectory(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """All states of the forward sweep, shape (L+1, N, d): ``[0]`` is X, ``[-1]`` the output."""
    a = _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)
    v.check_fits(
        f"the trajectory ({a.n_layers + 1}, {a.X.shape[0]}, {a.X.shape[1]})",
        (a.n_layers + 1) * a.X.size * a.X.itemsize,
    )
    return _core.forward(a.X, a.V, a.b, a.options, a.threads, True)


def _append_doc(fn, text: str) -> None:
    """Appends to a docstring; under ``python -OO`` there are none to append to."""
    if fn.__doc__ is not None:
        fn.__doc__ += text


_append_doc(forward, "\n    Parameters\n    ----------" + _NETWORK_DOC)
_append_doc(trajectory, "\n\n    Parameters\n    ----------" + _NETWORK_DOC)


class CostCall:
    """The cost kernel with its options checked once (:func:`checked_cost`), for a loop
    that calls it many times on rows of data it has checked itself, with parameters
    whose shapes and dtype stay fixed: training's mini-batches. A call then runs only
    the binding's checks of shapes, dtypes and layout, which keep it memory-safe; the
    checks whose messages name the user's argument ran once, when it was made."""

    def __init__(self, net: v.NetworkArgs, c: v.CostArgs, every: int, reversible: bool):
        self.options, self.threads = net.options, net.threads
        self.head, self.w1, self.w2, self.w_head = c.head, c.w1, c.w2, c.w_head
        self.every, self.reversible = every, reversible

    def __call__(
        self, X, Y, V, b, W, mu, sample_weight, grad, input_grad=False, costates=False
    ) -> tuple:
        """(J, dV, db, dW, dmu, dX, costates), as ``_core.cost`` returns them."""
        return _core.cost(
            X, Y, V, b, W, mu, sample_weight, self.options, self.head, self.w1, self.w2,
            self.w_head, grad, input_grad, costates, self.threads, self.every, self.reversible,
        )  # fmt: skip


def checked_cost(
    X,
    Y,
    V,
    b,
    net_kw: dict,
    cost_kw: dict,
    grad: bool,
    costates: bool = False,
    checkpoint_every=None,
    reversible: bool = False,
    rows: int | None = None,
) -> tuple[CostCall, v.NetworkArgs, v.CostArgs]:
    """Every check of a cost call, and the call: (call, network args, cost args).
    ``rows``: the most samples a call will take, when more than X holds (the
    gradient's workspace is checked for them)."""
    net = _network(X, V, b, **net_kw)
    c = v.cost_args(net, Y, **cost_kw)
    every = v.checkpoint_every(checkpoint_every, net.n_layers)
    reversible = v.flag("reversible", reversible)
    if reversible:
        if net.scheme not in v.SYMPLECTIC_SCHEMES:
            raise ValueError(
                "reversible=True reconstructs states by inverting the step: it needs scheme "
                f"'symplectic_euler' or 'verlet', got scheme={net.scheme!r}"
            )
        if net.project:
            raise ValueError(
                "reversible=True cannot be combined with project='relu' (not invertible)"
            )
        if every:
            raise ValueError("reversible=True stores no state: checkpoint_every must be None")
    if grad and not reversible:
        _check_gradient_workspace(net, every, max(rows or 0, net.X.shape[0]))
    if costates:
        v.check_fits(
            f"the costates ({net.n_layers + 1}, {net.X.shape[0]}, {net.X.shape[1]})",
            (net.n_layers + 1) * net.X.size * net.X.itemsize,
        )
    return CostCall(net, c, every, reversible), net, c


def _cost(
    X,
    Y,
    V,
    b,
    net_kw: dict,
    cost_kw: dict,
    grad: bool,
    input_grad: bool = False,
    costates: bool = False,
    checkpoint_every=None,
    reversible: bool = False,
):
    call, net, c = checked_cost(
        X, Y, V, b, net_kw, cost_kw, grad, costates, checkpoint_every, reversible
    )
    return call(net.X, c.Y, net.V, net.b, c.W, c.mu, c.sample_weight, grad, input_grad, costates)


def _workspace_per_thread(net, every: int, n: int) -> tuple[int, int]:
    """(states stored, bytes) a thread keeps per block of a call on n samples for the
    backward sweep: the states and the steps' caches of the layers it stores (all L,
    or about L / c + 2c)."""
    d = net.X.shape[1]
    L = net.n_layers
    arrays = 1 + _core.cached_arrays(net.form, net.scheme)  # a state and the step's cache
    cols = min(_block_size(net), -(-max(n, 1) // 16) * 16)
    stored = L if every == 0 else -(-L // every) + 2 * min(every, L)
    return stored, stored * arrays * d * cols * net.X.itemsize


def _block_size(net) -> int:
    """Samples per block of the network's sweeps (the kernels' own rule, parallel.hpp)."""
    stored = net.n_layers * (1 + _core.cached_arrays(net.form, net.scheme))
    return _core.block_size(net.X.shape[1], net.X.dtype, stored)


# vjp stores every state of a block while that needs at most this per thread
_VJP_STORE_ALL_BYTES = 32 * 2**20


@functools.cache
def _cpu_count() -> int:
    return os.cpu_count() or 1  # asked once: os.cpu_count() costs tens of us a call


def _check_gradient_workspace(net, every: int, n: int) -> None:
    """MemoryError before allocating per-thread block buffers that cannot fit, for a
    call on n samples.

    Each thread keeps, per block, the states and the steps' caches of the layers it
    stores (all L, or about L / c + 2c with checkpoint_every = c).
    """
    stored, per_thread = _workspace_per_thread(net, every, n)
    if per_thread * (net.threads or _cpu_count()) < 256 * 2**20:
        return  # the usual case: not worth reading /proc on every training step
    threads = net.threads or build_info()["threads"]
    threads = min(threads, -(-max(n, 1) // _block_size(net)))
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
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> float:
    """The cost J (a sum over samples) without gradients; stores no trajectory.

    Arguments as for :func:`loss_and_grad`.
    """
    net_kw = dict(
        T=T, form=form, activation=activation, gamma=gamma, threads=threads,
        scheme=scheme, project=project, n_layers=n_layers,
    )  # fmt: skip
    cost_kw = dict(head=head, W=W, mu=mu, w1=w1, w2=w2, w_head=w_head, sample_weight=sample_weight)
    return float(_cost(X, Y, V, b, net_kw, cost_kw, False)[0])


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
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
    checkpoint_every: int | str | None = None,
    reversible: bool = False,
) -> LossGrad:
    """The cost J and its exact gradients (the discrete adjoint, docs/mathematics.md).

    Parameters
    ----------
    X
        (N, d) inputs; float32 or float64 sets the compute dtype.
    Y
        targets: (N, d) states for ``head='state'``, (N, m) for ``'linear'``,
        (N,) integer labels for ``'softmax'`` (in [0, C)) and ``'logistic'`` (0 / 1).
    V, b
        layer parameters, (L, d, d) and (L, d) for the forms inner to antisymmetric.
    head
        ``'state'``, ``'linear'``, ``'softmax'`` or ``'logistic'``.
    W, mu
        head parameters (m, d) and (m,); None for ``'state'``.
    w1
        weight of the running cost (state head only).
    w2, w_head
        Tikhonov weights of the layers and of the head.
    sample_weight
        (N,) non-negative weights of each sample's cost terms.
    input_grad
        also return dJ/dX.
    checkpoint_every
        None stores every state of a block for the backward sweep
        (memory per block grows like L); an int c stores every c-th state and
        recomputes the others segment by segment (about L/c + 2c states);
        ``"sqrt"`` takes c = ceil(sqrt(L)). The results are bitwise the same; the
        forward sweep runs about twice.
    reversible
        (schemes ``'symplectic_euler'`` and ``'verlet'``) store no
        state: the backward sweep reconstructs x_k from x_{k+1} by inverting the
        step. Memory does not grow with L; the gradients differ from the stored
        ones by the reconstruction's rounding error (see docs/structure.md)."""
    input_grad = v.flag("input_grad", input_grad)
    net_kw = dict(
        T=T, form=form, activation=activation, gamma=gamma, threads=threads,
        scheme=scheme, project=project, n_layers=n_layers,
    )  # fmt: skip
    cost_kw = dict(head=head, W=W, mu=mu, w1=w1, w2=w2, w_head=w_head, sample_weight=sample_weight)
    value, dV, db, dW, dmu, dX, _ = _cost(
        X, Y, V, b, net_kw, cost_kw, True, input_grad,
        checkpoint_every=checkpoint_every, reversible=reversible,
    )  # fmt: skip
    return LossGrad(float(value), dV, db, dW, dmu, dX)


_append_doc(loss_and_grad, _NETWORK_DOC)


def costates(
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
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """The costates of every layer, shape (L+1, N, d): ``P[k] = p_{k+1} = dJ/dx_{k+1}``.

    ``P[0]`` is dJ/dX and ``P[L] = dPhi/dx_{L+1}`` (the sign of a gradient, p = +dJ/dx,
    the opposite of the multiplier lambda of Pontryagin's principle). Arguments as for
    :func:`loss_and_grad`.
    """
    net_kw = dict(
        T=T, form=form, activation=activation, gamma=gamma, threads=threads,
        scheme=scheme, project=project, n_layers=n_layers,
    )  # fmt: skip
    cost_kw = dict(head=head, W=W, mu=mu, w1=w1, w2=w2, w_head=w_head, sample_weight=sample_weight)
    return _cost(X, Y, V, b, net_kw, cost_kw, True, costates=True)[6]


def jvp(
    X: Any,
    V: Any,
    b: Any,
    *,
    dX: Any = None,
    dV: Any = None,
    db: Any = None,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """The directional derivative of :func:`forward` along (dX, dV, db), shape (N, d).

    The tangent (forward-mode) sweep: xdot_1 = dX and
    xdot_{k+1} = (dPhi_k/dx) xdot_k + (dPhi_k/dtheta_k) dtheta_k, batched over
    samples. dX is (N, d); dV and db are shaped as V and b; a direction left as
    None is zero.
    """
    a = _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)
    n, d = a.X.shape
    dX = None if dX is None else v.as_param("dX", dX, a.X.dtype, (n, d), f"({n}, {d})")
    if (dV is None) != (db is None):
        if dV is None:
            dV = np.zeros_like(a.V)
        else:
            db = np.zeros_like(a.b)
    if dV is not None:
        dV = v.as_param("dV", dV, a.X.dtype, a.V.shape, f"{a.V.shape} (as V)")
        db = v.as_param("db", db, a.X.dtype, a.b.shape, f"{a.b.shape} (as b)")
    return _core.tangent(a.X, a.V, a.b, a.options, dX, dV, db, False, a.threads)[1]


def vjp(
    X: Any,
    V: Any,
    b: Any,
    cotangent: Any,
    *,
    trajectory: bool = False,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
    checkpoint_every: int | str | None = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vector-Jacobian product of :func:`forward` (or :func:`trajectory`): (dX, dV, db).

    ``cotangent`` G is (N, d), the gradient of some scalar with respect to the
    final states, or with ``trajectory=True`` (L+1, N, d), with respect to every
    state. Returns its pull-back to X, V and b: the adjoint sweep started from
    ``p = G`` (and, along a trajectory, ``G[k]`` added to the costate of ``x_k``),
    i.e. the gradient of ``sum_k G_k . x_k``. This is the backward pass of the
    PyTorch and JAX layers (``resode.torch``, ``resode.jax``). The forward sweep
    is recomputed inside the kernel, block by block; ``checkpoint_every`` as for
    :func:`loss_and_grad`, or ``'auto'`` (the default): store a block's every state
    while that takes at most 32 MiB per thread, else ``'sqrt'`` (about 3 sqrt(L)
    states a block). Either way the memory does not grow with N, and the results
    are bitwise the same.
    """
    a = _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)
    trajectory = v.flag("trajectory", trajectory)
    n, d = a.X.shape
    shape = (a.n_layers + 1, n, d) if trajectory else (n, d)
    G = v.as_param("cotangent", cotangent, a.X.dtype, shape, str(shape))
    if checkpoint_every == "auto":
        store_all = _workspace_per_thread(a, 0, n)[1] <= _VJP_STORE_ALL_BYTES
        checkpoint_every = None if store_all else "sqrt"
    every = v.checkpoint_every(checkpoint_every, a.n_layers)
    return _core.vjp(a.X, a.V, a.b, a.options, G, trajectory, a.threads, every)


def input_jacobian(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    scheme: str = "euler",
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
    per_layer: bool = False,
) -> np.ndarray:
    """Each sample's Jacobian of the output with respect to its input.

    Shape (N, d, d), ``J[i, a, c] = d x_{L+1}[i, a] / d X[i, c]``; with
    ``per_layer=True`` (L+1, N, d, d), ``J[k] = d x_{k+1} / d x_1`` (``J[0]`` the
    identity). d tangent sweeps, one per input direction: meant for small d.
    """
    a = _network(X, V, b, T, form, activation, gamma, threads, scheme, project, n_layers)
    per_layer = v.flag("per_layer", per_layer)
    n, d = a.X.shape
    shape = (a.n_layers + 1, n, d, d) if per_layer else (n, d, d)
    v.check_fits(f"the Jacobians {shape}", int(np.prod(shape)) * 2 * a.X.itemsize)
    J = np.empty(shape, dtype=a.X.dtype)
    seed = np.zeros_like(a.X)
    for c in range(d):
        seed[:, c] = 1
        J[..., c] = _core.tangent(a.X, a.V, a.b, a.options, seed, None, None, per_layer, a.threads)[
            1
        ]
        seed[:, c] = 0
    return J


def layer_hamiltonian(
    X: Any,
    P: Any,
    V: Any,
    b: Any,
    *,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    threads: int | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """One layer's Hamiltonian sum_i P_i . f(X_i; V, b) and its gradient in (V, b).

    V and b are ONE layer's parameters (e.g. (d, d) and (d,) for ``inner``); X and
    P are (N, d) states and costates. Returns (value, dV, db). This is the
    per-layer quantity the method of successive approximations optimises.
    """
    X = v.as_states(X)
    v_shape, b_shape, v_name, b_name = v.param_shapes(v.choice("form", form, v.FORMS), X.shape[1])
    V, b = v._array("V", V), v._array("b", b)
    for name, arr, shape, what in (("V", V, v_shape, v_name), ("b", b, b_shape, b_name)):
        if arr.shape != shape:
            raise ValueError(
                f"{name} must be one layer's parameters, shape {what} = {shape} for "
                f"form={form!r}; got shape {arr.shape}"
            )
    a = _network(X, V[None], b[None], 1.0, form, activation, gamma, threads, "euler", None, None)
    n, d = a.X.shape
    P = v.as_param("P", P, a.X.dtype, (n, d), f"({n}, {d}) of costates")
    value, dV, db = _core.layer_hamiltonian(a.X, P, a.V, a.b, a.options, a.threads)
    return float(value), dV, db


def build_info() -> dict[str, Any]:
    """What this build of resode is: version, OpenMP, default threads, SIMD, compiler,
    the ISA level in use (``"isa"``, e.g. ``"x86-64-v3"``; ``RESODE_ISA`` forces one),
    the levels in the build (``"isa_built"``) and the OpenMP wait policy in effect."""
    return {
        **_core.build_info(),
        "isa_built": list(_core.isa_built),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
