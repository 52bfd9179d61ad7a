"""Training by the method of successive approximations (MSA) of Pontryagin's principle.

Li, Chen, Tai & E, "Maximum principle based algorithms for deep learning" (2018);
Andreu, "Deep learning as dynamical systems" (2020), section 4. One MSA iteration is

1. the forward sweep ``x_{k+1} = x_k + h f(x_k; theta_k)`` (:func:`resode.trajectory`);
2. the backward sweep of the costates ``p_k = dJ/dx_k`` (:func:`resode.costates`);
3. for every layer k at once, with x and p frozen at the values of step 1 and 2,
   ``theta_k <- argmin_theta M_k(theta)``, the layer objective below.

Sign convention. resode's costate is ``p = +dJ/dx``, the opposite of the
``lambda = -p`` of Li et al. and of Andreu, whose Hamiltonian
``H = lambda . f - R`` is *maximised*. With ``p`` the same step *minimises*

    M_k(theta) = h sum_i p_{k+1}^i . f(x_k^i; theta) + (h w2 / 2) (||V||_F^2 + |b|^2)
               + (rho / 2) sum_i  w_i      |x_{k+1}^i - x_k^i - h f(x_k^i; theta)|^2
               + (rho / 2) sum_i (1 / w_i) |p_k^i - p_{k+1}^i - h (df/dx(x_k^i; theta))^T p_{k+1}^i
                                            - h w1 w_i (x_k^i - y^i)|^2

(the last term without the running cost for k = 1). ``w_i`` are the sample
weights of the cost (1 by default) and ``w1``, ``w2`` its weights
(docs/mathematics.md). The first line is ``h`` times the negated Hamiltonian of Li et al.
(``H_k = lambda . (x + h f) - h R``, up to terms free of theta), so that
``grad M_k(theta_k) = dJ/dtheta_k`` at the current parameters: one gradient step
of size lr on every M_k is one step of gradient descent on J.

``rho = 0`` is the basic MSA. ``rho > 0`` is the extended MSA: the second and
third lines are Li et al.'s penalties on the residuals of the state and costate
equations (``(rho/2)|x_{k+1} - x_k - h f|^2`` and ``(rho/2)|p_k - grad_x H_k|^2``
in their notation, the same numbers in ours). Both residuals vanish at the
parameters of the sweep, because x and p solve the sweeps exactly, so the
penalties are a proximal term that keeps the new layer close to what the
other layers were trained against. Here they are evaluated in that form:
``x_{k+1} - x_k - h f(theta) = h (f(theta_k) - f(theta))`` and likewise for the
costate, which is why M_k needs no Y, w1 or p_k. The weights ``w_i`` and
``1 / w_i`` make a sample of weight w count as w copies of it (its costate
is w times a copy's); a sample of weight 0 has no penalty.

Scaling. :func:`resode.fit` minimises the mean cost J/N (sample weights
``s_i / N``, regulariser weights ``w2 / N``): its costates are those of J/N,
and every term of M_k, penalties included, is then M_k of J divided by N.
The minimiser is the same, the penalty weight ``rho`` keeps its meaning for
any N, and gradient steps on M_k have the scale of gradient steps on J/N (the
``lr`` of ``'gd'``). For the extended MSA with ``rho > 0`` the per-sample
penalties are thus averaged, not summed as in Li et al.'s formula for J.

Layer solvers. ``'exact'`` (form ``inner`` only): f is linear in (V, b) and
(df/dx)^T p = s'(x) * (V^T p) is linear in V, so M_k is a quadratic in
(V, b); its minimiser is one Newton step from theta_k, solved densely for
d <= 32 (d (d + 1) unknowns per layer; a linear solve when w2 > 0, else an
eigendecomposition). For the basic MSA and w2 > 0 it is the
explicit step ``V_k = -(1/w2) sum_i p_{k+1}^i s(x_k^i)^T``,
``b_k = -(1/w2) sum_i p_{k+1}^i``. Directions in which M_k is flat (zero
curvature, e.g. w2 = 0 and a feature that is zero on every sample) are left
unchanged. ``'gradient'`` (every form): ``steps`` steps of gradient descent on
M_k with Armijo backtracking: the first step tries step size lr, each later
one twice the previous accepted size (at most lr), halving until M_k
decreases enough. The gradient of ``sum_i p . f`` and of the state penalty is
the C++ primitive :func:`resode.layer_hamiltonian`; the gradient of the
costate penalty (the derivative of (df/dx)^T p with respect to theta, which
needs s'') is vectorised NumPy here, for every form.

Heads. W and mu (``linear``, ``softmax``, ``logistic`` heads) enter only the
terminal cost, so the maximum principle asks them to minimise
``Phi(x_{L+1}) + (w_head / 2) (||W||^2 + |mu|^2)`` at the frozen final states:
``steps`` gradient steps on that (convex) problem, backtracked as the layers'.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as v
from ._errors import NonFiniteError

__all__ = ["MSA", "ExtendedMSA", "layer_objective", "layer_step"]

SOLVERS = ("auto", "exact", "gradient")
FORMS = ("inner", "outer", "symmetric", "antisymmetric")  # the forms of the layer objective
MAX_EXACT_DIM = 32  # the exact inner solve is dense in d (d + 1) unknowns per layer
_ARMIJO, _MAX_HALVINGS = 1e-4, 40

# -- activations and vector fields (NumPy, rows are samples) --------------------------------


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _activation(name: str, z: np.ndarray, order: int) -> list[np.ndarray]:
    """[s(z), s'(z), s''(z)][: order + 1], with the left derivative at a kink."""
    if name == "tanh":
        t = np.tanh(z)
        d1 = 1.0 - t * t
        out = [t, d1, -2.0 * t * d1]
    elif name == "sigmoid":
        s = _sigmoid(z)
        d1 = s * (1.0 - s)
        out = [s, d1, d1 * (1.0 - 2.0 * s)]
    elif name == "softplus":
        s = _sigmoid(z)
        out = [np.logaddexp(0.0, z).astype(z.dtype), s, s * (1.0 - s)]
    elif name == "relu":
        out = [np.maximum(z, 0.0), (z > 0).astype(z.dtype)]
    elif name == "leaky_relu":
        slope = z.dtype.type(0.01)
        out = [np.where(z > 0, z, slope * z), np.where(z > 0, z.dtype.type(1), slope)]
    else:  # identity
        out = [z, np.ones_like(z)]
    if order == 2 and len(out) == 2:  # piecewise linear: s'' = 0
        out.append(np.zeros_like(z))
    return out[: order + 1]


def _matrix(form: str, V: np.ndarray, gamma: float) -> np.ndarray:
    if form == "antisymmetric":
        return V - V.T - gamma * np.eye(len(V), dtype=V.dtype)
    return V


def _field(form, activation, V, b, gamma, X, P=None):
    """f(X) (N, d) and, when P is given, (df/dx)^T p over the rows (N, d)."""
    A = _matrix(form, V, gamma)
    if form == "inner":
        s, ds = _activation(activation, X, 1)
        return s @ A.T + b, None if P is None else ds * (P @ A)
    s, ds = _activation(activation, X @ A.T + b, 1)
    if form == "symmetric":
        return -s @ A, None if P is None else -(ds * (P @ A.T)) @ A
    return s, None if P is None else (ds * P) @ A  # outer, antisymmetric


def _field_jt_grad(form, activation, V, b, gamma, X, P, U):
    """Gradient with respect to (V, b) of sum_i U_i . (df/dx(X_i))^T P_i."""
    A = _matrix(form, V, gamma)
    if form == "inner":  # U . (s'(x) * V^T p) = p^T V (s'(x) * u)
        _, ds = _activation(activation, X, 1)
        return P.T @ (ds * U), np.zeros_like(b)
    _, ds, dds = _activation(activation, X @ A.T + b, 2)
    if form == "symmetric":  # -sum_j s'(z_j) (V u)_j (V p)_j
        Vu, Vp = U @ A.T, P @ A.T
        E = dds * Vu * Vp
        dV = -((ds * Vp).T @ U + (ds * Vu).T @ P + E.T @ X)
        return dV, -E.sum(axis=0)
    # outer, antisymmetric: (A u) . (s'(z) * p)
    E = dds * P * (U @ A.T)
    dA = (ds * P).T @ U + E.T @ X
    return (dA - dA.T if form == "antisymmetric" else dA), E.sum(axis=0)


# -- the layer problem -------------------------------------------------------------------------


class _Layer:
    """One layer's MSA problem: frozen states X = x_k, costates P = p_{k+1}, sweep theta_k."""

    def __init__(self, X, P, V, b, h, form, activation, gamma, w2, rho, weight, threads):
        self.X, self.P, self.V0, self.b0 = X, P, V, b
        self.h, self.form, self.activation, self.gamma = h, form, activation, gamma
        self.w2, self.rho, self.w, self.threads = w2, rho, weight, threads
        if rho > 0:
            self.f0, self.g0 = _field(form, activation, V, b, gamma, X, P)
            w = np.ones(len(X), X.dtype) if weight is None else weight
            self.w = w
            self.winv = np.divide(1.0, w, out=np.zeros_like(w), where=w > 0)

    def value(self, V, b) -> float:
        h = self.h
        reg = 0.5 * h * self.w2 * (np.sum(V * V) + np.sum(b * b))
        if self.rho == 0:
            f, _ = _field(self.form, self.activation, V, b, self.gamma, self.X)
            return float(h * np.sum(self.P * f) + reg)
        f, g = _field(self.form, self.activation, V, b, self.gamma, self.X, self.P)
        ex, ep = f - self.f0, g - self.g0
        pen = self.w @ np.sum(ex * ex, axis=1) + self.winv @ np.sum(ep * ep, axis=1)
        return float(h * np.sum(self.P * f) + reg + 0.5 * self.rho * h * h * pen)

    def grad(self, V, b):
        from . import layer_hamiltonian  # the C++ per-layer primitive

        h, rho = self.h, self.rho
        net = {"form": self.form, "activation": self.activation, "gamma": self.gamma}
        Q = h * self.P
        if rho > 0:
            f, g = _field(self.form, self.activation, V, b, self.gamma, self.X, self.P)
            Q = Q + (rho * h * h) * (self.w[:, None] * (f - self.f0))
        _, dV, db = layer_hamiltonian(self.X, Q, V, b, **net, threads=self.threads)
        dV = dV + (h * self.w2) * V
        db = db + (h * self.w2) * b
        if rho > 0:
            U = (rho * h * h) * (self.winv[:, None] * (g - self.g0))
            cV, cb = _field_jt_grad(self.form, self.activation, V, b, self.gamma, self.X, self.P, U)
            dV, db = dV + cV, db + cb
        return dV, db

    def descend(self, steps: int, lr: float):
        """``steps`` gradient steps with Armijo backtracking from step size lr."""
        V, b = self.V0, self.b0
        value = self.value(V, b)
        t = lr
        for _ in range(steps):
            dV, db = self.grad(V, b)
            slope = float(np.sum(dV * dV) + np.sum(db * db))
            if slope == 0.0:
                break
            for _ in range(_MAX_HALVINGS):
                Vt, bt = V - t * dV, b - t * db
                trial = self.value(Vt, bt)
                if trial <= value - _ARMIJO * t * slope:  # False for NaN
                    break
                t *= 0.5
            else:
                break  # no decrease at any step size: at a minimum up to rounding
            V, b, value = Vt, bt, trial
            t = min(lr, 2.0 * t)  # the next step starts from twice the accepted size
        return V, b


def _exact_inner(X, P, V, b, h, activation, w2, rho, weight):
    """The minimisers of M_k for form 'inner', all layers at once.

    X, P (L, N, d) are x_k and p_{k+1}; V (L, d, d), b (L, d) the sweep's
    parameters. Unknowns per layer: Theta = [V | b] (d x (d + 1)), row-major.
    M_k / h = sum_i p_i . (Theta s~_i) + (w2/2)|Theta|^2 + (rho h / 2) (state + costate)
    with s~ = (s(x), 1): the Hessian is w2 I + rho h (I_d (x) A + C), A = sum_i w_i
    s~_i s~_i^T acting on each row of Theta, C acting on each column l of V as
    B_l = sum_i (s'(x_il)^2 / w_i) p_i p_i^T; the gradient at Theta_k is
    sum_i p_i s~_i^T + w2 Theta_k. One Newton step: a solve when w2 > 0 (H >= w2 I),
    else an eigendecomposition whose pseudo-inverse leaves flat directions alone.
    """
    dtype = V.dtype
    X, P, V, b = (np.asarray(a, dtype=np.float64) for a in (X, P, V, b))
    L, N, d = X.shape
    n = d * (d + 1)
    S, G = _activation(activation, X, 1)
    St = np.concatenate([S, np.ones((L, N, 1))], axis=2)  # (L, N, d+1)
    Theta = np.concatenate([V, b[:, :, None]], axis=2)  # (L, d, d+1)
    grad = np.matmul(P.transpose(0, 2, 1), St) + w2 * Theta  # (L, d, d+1)
    if rho > 0:
        w = np.ones(N) if weight is None else np.asarray(weight, dtype=np.float64)
        winv = np.divide(1.0, w, out=np.zeros_like(w), where=w > 0)
    new = np.empty_like(Theta)
    chunk = max(1, int(4e6 // (n * n + N * d * d)))  # bound the temporaries (~32 MB)
    eye_d = np.eye(d)
    for lo in range(0, L, chunk):
        k = slice(lo, min(L, lo + chunk))
        m = k.stop - k.start
        H = np.zeros((m, d, d + 1, d, d + 1))
        if rho > 0:
            A = np.matmul(St[k].transpose(0, 2, 1), w[:, None] * St[k])  # (m, d+1, d+1)
            H += np.einsum("jq,kce->kjcqe", eye_d, A)
            Gw = (G[k] * G[k]) * winv[:, None]  # (m, N, d): s'(x_il)^2 / w_i
            T = (Gw[:, :, :, None] * P[k][:, :, None, :]).reshape(m, N, d * d)
            B = np.matmul(T.transpose(0, 2, 1), P[k]).reshape(m, d, d, d)  # [k, l, j, q]
            ll = np.arange(d)
            H[:, :, ll, :, ll] += B.transpose(1, 0, 2, 3)
            H *= rho * h
        H = H.reshape(m, n, n)
        H[:, np.arange(n), np.arange(n)] += w2
        gk = grad[k].reshape(m, n, 1)
        if w2 > 0:  # H >= w2 I: positive definite, one minimiser
            step = np.linalg.solve(H, gk)
        else:  # possibly singular: the pseudo-inverse leaves flat directions alone
            lam, Q = np.linalg.eigh(0.5 * (H + H.transpose(0, 2, 1)))
            tol = lam[:, -1:] * (n * 64 * np.finfo(np.float64).eps)
            inv = np.divide(1.0, lam, out=np.zeros_like(lam), where=lam > np.maximum(tol, 0.0))
            step = np.matmul(Q, inv[:, :, None] * np.matmul(Q.transpose(0, 2, 1), gk))
        new[k] = Theta[k] - step.reshape(m, d, d + 1)
    return new[:, :, :d].astype(dtype), new[:, :, d].astype(dtype)


def _choose_solver(solver, form, d, w2, rho) -> str:
    if solver == "exact":
        if form != "inner":
            raise ValueError(
                f"solver='exact' needs form='inner' (the layer problem is a quadratic only "
                f"there), got form={form!r}; use solver='gradient'"
            )
        if d > MAX_EXACT_DIM:
            raise ValueError(
                f"solver='exact' solves d (d + 1) unknowns per layer densely and is limited "
                f"to d <= {MAX_EXACT_DIM}, got d={d}; use solver='gradient'"
            )
        if w2 == 0 and rho == 0:
            raise ValueError(
                "solver='exact' with rho=0 needs w2 > 0: the basic MSA's layer Hamiltonian "
                "of form='inner' is linear in (V, b) and has no minimiser; use rho > 0"
            )
        return "exact"
    if solver == "auto":
        ok = form == "inner" and d <= MAX_EXACT_DIM and (w2 > 0 or rho > 0)
        return "exact" if ok else "gradient"
    return "gradient"


def _scalar_options(h, form, activation, gamma, w2, rho, solver, steps, lr):
    return (
        v.real("h", h, positive=True),
        v.choice("form", form, FORMS),
        v.choice("activation", activation, v.ACTIVATIONS),
        v.real("gamma", gamma),
        v.real("w2", w2),
        v.real("rho", rho),
        v.choice("solver", solver, SOLVERS),
        v.integer("steps", steps),
        v.real("lr", lr, positive=True),
    )


def _layer_args(X, P, V, b, sample_weight, form, gamma):
    X = v.as_states(X)
    dt, (N, d) = X.dtype, X.shape
    P = v.as_param("P", P, dt, (N, d), f"(N, d) = ({N}, {d}), the shape of X")
    V = v.as_param("V", V, dt, (d, d), f"(d, d) = ({d}, {d})")
    b = v.as_param("b", b, dt, (d,), f"(d,) = ({d},)")
    w = v.as_sample_weight(sample_weight, N, dt)
    if gamma > 0 and form != "antisymmetric":
        raise ValueError("gamma > 0 applies only to form='antisymmetric'")
    return X, P, V, b, w


def layer_objective(
    X: Any,
    P: Any,
    V: Any,
    b: Any,
    *,
    at: tuple[Any, Any] | None = None,
    h: float,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    w2: float = 0.0,
    rho: float = 0.0,
    sample_weight: Any = None,
    threads: int | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The MSA layer objective M_k and its gradient (see the module docstring).

    Parameters
    ----------
    X
        (N, d) the layer's input states x_k from the forward sweep.
    P
        (N, d) the costates p_{k+1} = dJ/dx_{k+1} of the layer's output from the
        backward sweep (for the layer ``V[k]``: ``X = trajectory[k]``,
        ``P = resode.costates(...)[k + 1]``).
    V, b
        (d, d), (d,) the layer's parameters of that sweep (theta_k, the
        reference of the rho-penalties).
    at
        (V', b') where to evaluate M_k; default (V, b).
    h
        the step T / L.
    w2, rho
        the Tikhonov weight of the cost and the extended MSA's penalty weight.
    sample_weight
        (N,) the weights w_i the costates were computed with (None: 1).

    Returns
    -------
    tuple
        ``(value, dV, db)``: M_k(V', b') and its gradient. At ``at = (V, b)``
        the gradient is dJ/dtheta_k.
    """
    h, form, activation, gamma, w2, rho, *_ = _scalar_options(
        h, form, activation, gamma, w2, rho, "auto", 1, 1.0
    )
    X, P, V, b, w = _layer_args(X, P, V, b, sample_weight, form, gamma)
    if at is None:
        V1, b1 = V, b
    else:
        if len(at) != 2:
            raise ValueError("at must be a pair (V, b)")
        d = X.shape[1]
        V1 = v.as_param("at[0]", at[0], X.dtype, (d, d), f"(d, d) = ({d}, {d})")
        b1 = v.as_param("at[1]", at[1], X.dtype, (d,), f"(d,) = ({d},)")
    layer = _Layer(X, P, V, b, h, form, activation, gamma, w2, rho, w, v.threads(threads))
    dV, db = layer.grad(V1, b1)
    return layer.value(V1, b1), dV, db


def layer_step(
    X: Any,
    P: Any,
    V: Any,
    b: Any,
    *,
    h: float,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    w2: float = 0.0,
    rho: float = 0.0,
    sample_weight: Any = None,
    solver: str = "auto",
    steps: int = 10,
    lr: float = 0.1,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One layer's MSA update: (V_new, b_new) minimising M_k (module docstring).

    Arguments as :func:`layer_objective`; ``solver`` is ``'exact'`` (form
    ``inner``, d <= 32; with rho = 0 it needs w2 > 0), ``'gradient'`` (``steps``
    Armijo-backtracked gradient steps from step size ``lr``), or ``'auto'``
    (exact where it applies). The result never has a larger M_k than (V, b).
    """
    h, form, activation, gamma, w2, rho, solver, steps, lr = _scalar_options(
        h, form, activation, gamma, w2, rho, solver, steps, lr
    )
    X, P, V, b, w = _layer_args(X, P, V, b, sample_weight, form, gamma)
    if _choose_solver(solver, form, X.shape[1], w2, rho) == "exact":
        Vn, bn = _exact_inner(X[None], P[None], V[None], b[None], h, activation, w2, rho, w)
        return Vn[0], bn[0]
    layer = _Layer(X, P, V, b, h, form, activation, gamma, w2, rho, w, v.threads(threads))
    return layer.descend(steps, lr)


# -- the optimisers ------------------------------------------------------------------------------


class MSA:
    """The method of successive approximations as an optimiser for :func:`resode.fit`.

    Each step (full batch by default; a mini-batch when ``batch_size`` is given)
    runs the forward and backward sweeps at the current parameters, then
    replaces every layer's (V_k, b_k) by the minimiser of its layer objective
    M_k (module docstring) and takes ``steps`` gradient steps on the head.

    Parameters
    ----------
    rho
        weight of the extended MSA's penalties on the state and costate
        equations; 0 is the basic MSA (which can diverge: the penalties are what
        make the extended MSA converge, Li et al. 2018).
    solver
        ``'auto'`` (closed form for ``inner`` with d <= 32 when w2 > 0 or
        rho > 0, else gradient steps), ``'exact'`` or ``'gradient'``.
    steps
        gradient steps per layer (solver ``'gradient'``) and on the head.

    Notes
    -----
    ``lr`` (from fit) is the initial step size of those gradient steps, on the
    scale of J/N (with steps=1, rho=0 and solver='gradient' one MSA step is one
    gradient-descent step when the full step is accepted).
    """

    default_lr = 0.1
    full_batch = True

    def __init__(self, *, rho: float = 0.0, solver: str = "auto", steps: int = 10):
        self.rho = v.real("rho", rho)
        self.solver = v.choice("solver", solver, SOLVERS)
        self.steps = v.integer("steps", steps)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rho={self.rho}, solver={self.solver!r}, steps={self.steps})"

    def reset(self, params: dict[str, np.ndarray]) -> None:
        pass

    def update(
        self, params: dict[str, np.ndarray], X: np.ndarray, Y: Any, cost: dict[str, Any], lr: float
    ) -> None:
        """One MSA iteration on (X, Y), updating ``params`` (V, b, W, mu) in place.

        ``cost`` holds the keyword arguments of :func:`resode.loss_and_grad`
        that define the cost (T, form, activation, head, W, mu, w1, w2, w_head,
        gamma, sample_weight, threads); fit passes those of J/N.
        """
        from . import costates
        from .functional import trajectory

        lr = v.real("lr", lr, positive=True)
        if "K0" in params:
            raise ValueError(
                "MSA ('msa', 'emsa') trains the residual layers and the head; a model with "
                "an opening layer (input_dim) needs a gradient optimiser ('adam', 'sgd', "
                "'gd', 'lbfgs')"
            )
        _check_supported(cost, len(params["V"]))
        V, b = params["V"], params["b"]
        L, d = V.shape[0], V.shape[1]
        T, form, act, gamma = cost["T"], cost["form"], cost["activation"], cost["gamma"]
        h, w2, threads = T / L, cost["w2"], cost.get("threads")
        net = {"T": T, "form": form, "activation": act, "gamma": gamma, "threads": threads}
        xs = trajectory(X, V, b, **net)
        ps = costates(X, Y, V, b, **{**cost, "W": params.get("W"), "mu": params.get("mu")})
        w = cost.get("sample_weight")
        w = None if w is None else np.asarray(w, dtype=X.dtype)
        solver = _choose_solver(self.solver, form, d, w2, self.rho)
        if solver == "exact":
            newV, newb = _exact_inner(xs[:-1], ps[1:], V, b, h, act, w2, self.rho, w)
        else:
            newV, newb = np.empty_like(V), np.empty_like(b)
            for k in range(L):
                args = (h, form, act, gamma, w2, self.rho, w, threads)
                layer = _Layer(xs[k], ps[k + 1], V[k], b[k], *args)
                newV[k], newb[k] = layer.descend(self.steps, lr)
        if not (np.isfinite(newV).all() and np.isfinite(newb).all()):
            raise NonFiniteError("the MSA layer update is not finite", stage="msa")
        if "W" in params:
            W, mu = _head_descent(cost, xs[-1], Y, params["W"], params["mu"], self.steps, lr)
            params["W"][...], params["mu"][...] = W, mu
        V[...], b[...] = newV, newb


def _check_supported(cost: dict[str, Any], n_groups: int) -> None:
    """The layer objective is derived for forward Euler with one (V_k, b_k) per layer."""
    if cost["form"] not in FORMS:
        raise ValueError(f"MSA supports form in {FORMS}, got form={cost['form']!r}")
    for key, plain in (("scheme", "euler"), ("project", None)):
        if cost.get(key, plain) != plain:
            raise ValueError(f"MSA supports only {key}={plain!r}, got {key}={cost[key]!r}")
    if cost.get("n_layers") not in (None, n_groups):
        raise ValueError(
            "MSA needs one (V_k, b_k) per layer; parameters shared between layers "
            f"(n_layers={cost['n_layers']} for {n_groups} parameter groups) are not supported"
        )


class ExtendedMSA(MSA):
    """The extended MSA of Li et al. (2018): :class:`MSA` with a penalty weight rho > 0."""

    def __init__(self, *, rho: float = 20.0, solver: str = "auto", steps: int = 10):
        super().__init__(rho=rho, solver=solver, steps=steps)
        if self.rho == 0:
            raise ValueError("rho must be > 0 for the extended MSA (rho = 0 is MSA), got 0")


def _head_descent(cost, x, Y, W, mu, steps, lr):
    """Gradient steps on Phi(x) + (w_head/2)(|W|^2 + |mu|^2) over (W, mu), x fixed,
    with the same Armijo backtracking as the layers' gradient steps."""
    head, w_head = cost["head"], cost["w_head"]
    sw = cost.get("sample_weight")
    sw = np.ones(len(x), x.dtype) if sw is None else np.asarray(sw, dtype=x.dtype)
    Y = np.asarray(Y, dtype=x.dtype if head == "linear" else np.int64)

    def value_grad(W, mu, grad=True):
        z = x @ W.T + mu
        reg = 0.5 * w_head * (np.sum(W * W) + np.sum(mu * mu))
        if head == "linear":
            q = z - Y
            phi = 0.5 * np.sum(q * q, axis=1)
        elif head == "softmax":
            zmax = z.max(axis=1, keepdims=True)
            e = np.exp(z - zmax)
            total = e.sum(axis=1, keepdims=True)
            rows = np.arange(len(Y))
            phi = (zmax + np.log(total))[:, 0] - z[rows, Y]
            q = e / total
            q[rows, Y] -= 1.0
        else:  # logistic: log(1 + e^z) - y z
            phi = np.logaddexp(0.0, z[:, 0]) - Y * z[:, 0]
            q = _sigmoid(z) - Y[:, None]
        value = float(sw @ phi + reg)
        if not grad:
            return value
        q *= sw[:, None]
        return value, q.T @ x + w_head * W, q.sum(axis=0) + w_head * mu

    t = lr
    for _ in range(steps):
        value, dW, dmu = value_grad(W, mu)
        slope = float(np.sum(dW * dW) + np.sum(dmu * dmu))
        if slope == 0.0:
            break
        for _ in range(_MAX_HALVINGS):
            Wt, mut = W - t * dW, mu - t * dmu
            if value_grad(Wt, mut, grad=False) <= value - _ARMIJO * t * slope:
                break
            t *= 0.5
        else:
            break
        W, mu = Wt, mut
        t = min(lr, 2.0 * t)
    if not (np.isfinite(W).all() and np.isfinite(mu).all()):
        raise NonFiniteError("the MSA head update is not finite", stage="msa")
    return W, mu
