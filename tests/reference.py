"""An independent NumPy implementation of DESIGN.md section 1, for the tests.

Written for clarity, not speed: samples are rows (the NumPy convention,
F = s(X) @ V.T + b), a plain Python loop runs over layers, and every formula
is transcribed from DESIGN.md's tables. It shares no code with the C++ kernels.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # no overflow, full relative accuracy in both tails
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS = {
    "tanh": (np.tanh, lambda x: 1.0 / np.cosh(np.minimum(np.abs(x), 700.0)) ** 2),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(x.dtype)),
    "sigmoid": (_sigmoid, lambda x: np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))) ** 2),
    "softplus": (lambda x: np.logaddexp(0.0, x), _sigmoid),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "identity": (lambda x: x, np.ones_like),
}


def _matrix(form, Vk, gamma):
    if form == "antisymmetric":
        return Vk - Vk.T - gamma * np.eye(len(Vk))
    return Vk


def field(form, activation, Vk, bk, X, gamma=0.0):
    """f_k over the rows of X."""
    s, _ = ACTIVATIONS[activation]
    A = _matrix(form, Vk, gamma)
    if form == "inner":
        return s(X) @ A.T + bk
    if form in ("outer", "antisymmetric"):
        return s(X @ A.T + bk)
    if form == "symmetric":
        return -s(X @ A.T + bk) @ A
    raise ValueError(form)


def trajectory(X, V, b, T=1.0, form="inner", activation="tanh", gamma=0.0):
    L = len(V)
    h = T / L
    xs = [np.asarray(X, dtype=np.float64)]
    for k in range(L):
        xs.append(xs[-1] + h * field(form, activation, V[k], b[k], xs[-1], gamma))
    return np.stack(xs)


def _head(head, x, Y, W, mu, sw):
    """Phi summed over samples, p_{L+1}, dW, dmu."""
    if head == "state":
        r = x - Y
        return 0.5 * np.sum(sw * np.sum(r * r, axis=1)), sw[:, None] * r, None, None
    z = x @ W.T + mu
    if head == "linear":
        r = z - Y
        phi = 0.5 * np.sum(sw * np.sum(r * r, axis=1))
        q = r
    elif head == "softmax":
        y = Y.astype(int)
        zmax = z.max(axis=1, keepdims=True)
        lse = (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True)))[:, 0]
        phi = np.sum(sw * (lse - z[np.arange(len(y)), y]))
        q = np.exp(z - lse[:, None])
        rows = np.arange(len(y))
        # p_y - 1 = -(the other probabilities): accurate for confident predictions
        others = q.copy()
        others[rows, y] = 0.0
        q[rows, y] = -others.sum(axis=1)
    elif head == "logistic":
        y = Y.astype(np.float64)
        phi = np.sum(sw * (np.logaddexp(0.0, z[:, 0]) - y * z[:, 0]))
        q = np.where(y == 1, -_sigmoid(-z[:, 0]), _sigmoid(z[:, 0]))[:, None]
    else:
        raise ValueError(head)
    q = sw[:, None] * q
    return phi, q @ W, q.T @ x, q.sum(axis=0)


def loss_and_grad(
    X,
    Y,
    V,
    b,
    T=1.0,
    form="inner",
    activation="tanh",
    head="state",
    W=None,
    mu=None,
    w1=0.0,
    w2=0.0,
    w_head=0.0,
    gamma=0.0,
    sample_weight=None,
):
    """dict with loss, dV, db, dW, dmu, dX, all in float64."""
    X, V, b = (np.asarray(a, dtype=np.float64) for a in (X, V, b))
    if head in ("state", "linear"):
        Y = np.asarray(Y, dtype=np.float64)
    if W is not None:
        W, mu = np.asarray(W, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    N = len(X)
    L = len(V)
    h = T / L
    sw = np.ones(N) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    s, ds = ACTIVATIONS[activation]
    xs = trajectory(X, V, b, T, form, activation, gamma)

    J, p, dW, dmu = _head(head, xs[L], Y, W, mu, sw)
    for k in range(1, L if w1 else 1):  # running cost over x_2..x_L (1-based)
        J += 0.5 * w1 * h * np.sum(sw * np.sum((xs[k] - Y) ** 2, axis=1))
    J += 0.5 * w2 * h * (np.sum(V * V) + np.sum(b * b))
    if W is not None:
        J += 0.5 * w_head * (np.sum(W * W) + np.sum(mu * mu))
        dW, dmu = dW + w_head * W, dmu + w_head * mu

    dV = np.zeros_like(V)
    db = np.zeros_like(b)
    for k in range(L - 1, -1, -1):
        x = xs[k]
        A = _matrix(form, V[k], gamma)
        if form == "inner":
            dV[k] = h * p.T @ s(x)
            db[k] = h * p.sum(axis=0)
            p = p + h * ds(x) * (p @ A)
        elif form in ("outer", "antisymmetric"):
            z = x @ A.T + b[k]
            delta = ds(z) * p
            M = h * delta.T @ x
            dV[k] = M - M.T if form == "antisymmetric" else M
            db[k] = h * delta.sum(axis=0)
            p = p + h * delta @ A
        elif form == "symmetric":
            z = x @ A.T + b[k]
            u = ds(z) * (p @ A.T)
            dV[k] = -h * (s(z).T @ p + u.T @ x)
            db[k] = -h * u.sum(axis=0)
            p = p - h * u @ A
        if k >= 1 and w1:
            p = p + h * w1 * sw[:, None] * (x - Y)
    dV += w2 * h * V
    db += w2 * h * b
    return {"loss": J, "dV": dV, "db": db, "dW": dW, "dmu": dmu, "dX": p}
