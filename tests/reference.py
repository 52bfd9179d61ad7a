"""An independent NumPy implementation of docs/mathematics.md, for the tests.

Written for clarity, not speed: samples are rows (the NumPy convention,
F = s(X) @ V.T + b), a plain Python loop runs over layers, and every formula
is transcribed from that page's tables. It shares no code with the C++ kernels.
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
FORM_NAMES_OLD = ("inner", "outer", "symmetric", "antisymmetric")


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


def trajectory(X, V, b, T=1.0, form="inner", activation="tanh", gamma=0.0, **new):
    """All states; keywords scheme, project, n_layers go to ext_trajectory."""
    if new or form not in FORM_NAMES_OLD:
        return ext_trajectory(X, V, b, T, form, activation, gamma, **new)
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
    **new,
):
    """dict with loss, dV, db, dW, dmu, dX, all in float64.

    Keywords scheme, project, n_layers (and a form outside the first four) go to
    ext_loss_and_grad, which also returns the costates.
    """
    if new or form not in FORM_NAMES_OLD:
        return ext_loss_and_grad(
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
            **new,
        )
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


# ---------------------------------------------------------------------------
# Extensions: more forms, Runge-Kutta and symplectic schemes, the post-activation
# projection, parameter sharing in time, costates, the tangent (forward-mode)
# sweep, input Jacobians and the one-layer Hamiltonian.
#
# Every form is given by three functions of ONE layer's parameters (Vk, bk):
#   value(X)                    f over the rows of X
#   vjp(X, P) -> (gx, gV, gb)   gx = (df/dx)^T p per row; gV, gb = the parameter
#                               gradient of sum_i p_i . f(x_i) (summed over rows)
#   jvp(X, dX, dV, db)          the directional derivative of f per row
# and every scheme is built from these alone, so the sweeps below are generic.
# ---------------------------------------------------------------------------

NEW_FORMS = ("resnet_d", "hamiltonian", "hamiltonian_hr")
HAMILTONIAN_FORMS = ("hamiltonian", "hamiltonian_hr")
RK_SCHEMES = ("euler", "heun", "rk4")
SYMPLECTIC_SCHEMES = ("symplectic_euler", "verlet")

# explicit Runge-Kutta tableaus (A strictly lower triangular, weights c)
_TABLEAUS = {
    "euler": ([[0.0]], [1.0]),
    "heun": ([[0.0, 0.0], [1.0, 0.0]], [0.5, 0.5]),
    "rk4": (
        [[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1.0, 0]],
        [1 / 6, 1 / 3, 1 / 3, 1 / 6],
    ),
}
# partitioned (splitting) schemes of the Hamiltonian forms: a sequence of
# sub-steps x <- x + c h M f(x), M keeping only the y half ("y") or the z half ("z")
_SPLITTINGS = {
    "symplectic_euler": [("y", 1.0), ("z", 1.0)],
    "verlet": [("z", 0.5), ("y", 1.0), ("z", 0.5)],
}


def param_shapes(form, d):
    """Shapes of one layer's (V_k, b_k)."""
    if form in FORM_NAMES_OLD:
        return (d, d), (d,)
    if form == "resnet_d":
        return (2, d, d), (2, d)
    m = d // 2
    if form == "hamiltonian":
        return (2, m, m), (2, m)
    if form == "hamiltonian_hr":
        return (m, m), (2, m)
    raise ValueError(form)


def _sym_value(s, K, c, X):
    """-K^T s(K x + c) per row (the `symmetric` form)."""
    return -s(X @ K.T + c) @ K


def _sym_vjp(s, ds, K, c, X, P):
    z = X @ K.T + c
    u = ds(z) * (P @ K.T)
    return -u @ K, -(s(z).T @ P + u.T @ X), -u.sum(axis=0)


def _sym_jvp(s, ds, K, c, X, dX, dK, dc):
    z = X @ K.T + c
    dz = dX @ K.T + X @ dK.T + dc
    return -(ds(z) * dz) @ K - s(z) @ dK


class _Form:
    """f_k for one layer: value, vjp and jvp over the rows of X."""

    def __init__(self, form, activation, Vk, bk, gamma=0.0):
        self.form = form
        self.s, self.ds = ACTIVATIONS[activation]
        self.V = np.asarray(Vk, dtype=np.float64)
        self.b = np.asarray(bk, dtype=np.float64)
        self.gamma = gamma

    # --- f -----------------------------------------------------------------
    def value(self, X):
        s, V, b = self.s, self.V, self.b
        fm = self.form
        if fm == "inner":
            return s(X) @ V.T + b
        if fm == "outer":
            return s(X @ V.T + b)
        if fm == "antisymmetric":
            A = V - V.T - self.gamma * np.eye(len(V))
            return s(X @ A.T + b)
        if fm == "symmetric":
            return _sym_value(s, V, b, X)
        if fm == "resnet_d":
            K, A = V
            return -s(X @ K.T + b[0]) @ A.T + b[1]
        m = X.shape[1] // 2
        y, z = X[:, :m], X[:, m:]
        if fm == "hamiltonian":
            # y' = K1^T s(K1 z + b1), z' = -K2^T s(K2 y + b2)
            return np.hstack([-_sym_value(s, V[0], b[0], z), _sym_value(s, V[1], b[1], y)])
        if fm == "hamiltonian_hr":
            # y' = s(K z + b1), z' = -s(K^T y + b2)
            return np.hstack([s(z @ V.T + b[0]), -s(y @ V + b[1])])
        raise ValueError(fm)

    # --- (df/dx)^T p and the parameter gradient of <p, f> --------------------
    def vjp(self, X, P):
        s, ds, V, b = self.s, self.ds, self.V, self.b
        fm = self.form
        if fm == "inner":
            return ds(X) * (P @ V), P.T @ s(X), P.sum(axis=0)
        if fm == "outer":
            delta = ds(X @ V.T + b) * P
            return delta @ V, delta.T @ X, delta.sum(axis=0)
        if fm == "antisymmetric":
            A = V - V.T - self.gamma * np.eye(len(V))
            delta = ds(X @ A.T + b) * P
            M = delta.T @ X
            return delta @ A, M - M.T, delta.sum(axis=0)
        if fm == "symmetric":
            return _sym_vjp(s, ds, V, b, X, P)
        if fm == "resnet_d":
            K, A = V
            z = X @ K.T + b[0]
            delta = ds(z) * -(P @ A)  # s'(z) * (-A^T p)
            gV = np.stack([delta.T @ X, -(P.T @ s(z))])
            gb = np.stack([delta.sum(axis=0), P.sum(axis=0)])
            return delta @ K, gV, gb
        m = X.shape[1] // 2
        y, z = X[:, :m], X[:, m:]
        Py, Pz = P[:, :m], P[:, m:]
        if fm == "hamiltonian":
            gz, gK1, gb1 = _sym_vjp(s, ds, V[0], b[0], z, -Py)
            gy, gK2, gb2 = _sym_vjp(s, ds, V[1], b[1], y, Pz)
            return np.hstack([gy, gz]), np.stack([gK1, gK2]), np.stack([gb1, gb2])
        if fm == "hamiltonian_hr":
            K = V
            d1 = ds(z @ K.T + b[0]) * Py  # y-equation: pre-activation K z + b1
            d2 = -ds(y @ K + b[1]) * Pz  # z-equation: pre-activation K^T y + b2
            gx = np.hstack([d2 @ K.T, d1 @ K])
            return gx, d1.T @ z + y.T @ d2, np.stack([d1.sum(axis=0), d2.sum(axis=0)])
        raise ValueError(fm)

    # --- the directional derivative of f along (dX, dV, db) -----------------
    def jvp(self, X, dX, dV, db):
        s, ds, V, b = self.s, self.ds, self.V, self.b
        fm = self.form
        if fm == "inner":
            return (ds(X) * dX) @ V.T + s(X) @ dV.T + db
        if fm == "outer":
            z = X @ V.T + b
            return ds(z) * (dX @ V.T + X @ dV.T + db)
        if fm == "antisymmetric":
            A = V - V.T - self.gamma * np.eye(len(V))
            dA = dV - dV.T
            return ds(X @ A.T + b) * (dX @ A.T + X @ dA.T + db)
        if fm == "symmetric":
            return _sym_jvp(s, ds, V, b, X, dX, dV, db)
        if fm == "resnet_d":
            K, A = V
            z = X @ K.T + b[0]
            dz = dX @ K.T + X @ dV[0].T + db[0]
            return -(ds(z) * dz) @ A.T - s(z) @ dV[1].T + db[1]
        m = X.shape[1] // 2
        y, z = X[:, :m], X[:, m:]
        dy, dz = dX[:, :m], dX[:, m:]
        if fm == "hamiltonian":
            fy = -_sym_jvp(s, ds, V[0], b[0], z, dz, dV[0], db[0])
            fz = _sym_jvp(s, ds, V[1], b[1], y, dy, dV[1], db[1])
            return np.hstack([fy, fz])
        if fm == "hamiltonian_hr":
            K, dK = V, dV
            fy = ds(z @ K.T + b[0]) * (dz @ K.T + z @ dK.T + db[0])
            fz = -ds(y @ K + b[1]) * (dy @ K + y @ dK + db[1])
            return np.hstack([fy, fz])
        raise ValueError(fm)


def field_of(form, activation, Vk, bk, X, gamma=0.0):
    """f_k over the rows of X, for any form (the old `field` covers the first four)."""
    return _Form(form, activation, Vk, bk, gamma).value(np.asarray(X, dtype=np.float64))


def layer_groups(L, G, n_layers):
    """(number of layers, the group of each layer) for V with G groups."""
    if n_layers is None:
        return G, np.arange(G)
    n_layers = int(n_layers)
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    m = -(-n_layers // G)
    if -(-n_layers // m) != G:
        raise ValueError(f"n_layers={n_layers} cannot be cut into {G} groups")
    return n_layers, np.arange(n_layers) // m


def _check_scheme(form, scheme, project):
    if scheme in SYMPLECTIC_SCHEMES:
        if form not in HAMILTONIAN_FORMS:
            raise ValueError(f"scheme {scheme!r} needs a Hamiltonian form")
    elif scheme not in RK_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}")
    if project not in (None, "relu"):
        raise ValueError(f"unknown project {project!r}")


def _mask(X, half):
    m = X.shape[1] // 2
    out = np.zeros_like(X)
    if half == "y":
        out[:, :m] = X[:, :m]
    else:
        out[:, m:] = X[:, m:]
    return out


def _step(F, x, h, scheme):
    """One step of the scheme; returns x+ (before any projection) and what the
    backward and tangent sweeps need: the stage inputs."""
    if scheme in _TABLEAUS:
        A, c = _TABLEAUS[scheme]
        Ks, Xs = [], []
        for i in range(len(c)):
            Xi = x.copy()
            for j in range(i):
                if A[i][j]:
                    Xi = Xi + h * A[i][j] * Ks[j]
            Xs.append(Xi)
            Ks.append(F.value(Xi))
        out = x.copy()
        for i in range(len(c)):
            out = out + h * c[i] * Ks[i]
        return out, Xs
    Xs = []
    for half, c in _SPLITTINGS[scheme]:
        Xs.append(x)
        x = x + c * h * _mask(F.value(x), half)
    return x, Xs


def _step_vjp(F, Xs, p, h, scheme):
    """(d x+/d x)^T p and the parameter gradient of <p, x+>."""
    gV = np.zeros_like(F.V)
    gb = np.zeros_like(F.b)
    if scheme in _TABLEAUS:
        A, c = _TABLEAUS[scheme]
        barK = [h * ci * p for ci in c]
        gx = p.copy()
        for i in range(len(c) - 1, -1, -1):
            gxi, gVi, gbi = F.vjp(Xs[i], barK[i])
            gx, gV, gb = gx + gxi, gV + gVi, gb + gbi
            for j in range(i):
                if A[i][j]:
                    barK[j] = barK[j] + h * A[i][j] * gxi
        return gx, gV, gb
    for (half, c), x in zip(reversed(_SPLITTINGS[scheme]), reversed(Xs), strict=True):
        gxi, gVi, gbi = F.vjp(x, c * h * _mask(p, half))
        p, gV, gb = p + gxi, gV + gVi, gb + gbi
    return p, gV, gb


def _step_jvp(F, Xs, dx, dV, db, h, scheme):
    """The tangent of x+ along (dx, dV, db)."""
    if scheme in _TABLEAUS:
        A, c = _TABLEAUS[scheme]
        dK = []
        for i in range(len(c)):
            dXi = dx.copy()
            for j in range(i):
                if A[i][j]:
                    dXi = dXi + h * A[i][j] * dK[j]
            dK.append(F.jvp(Xs[i], dXi, dV, db))
        out = dx.copy()
        for i in range(len(c)):
            out = out + h * c[i] * dK[i]
        return out
    for (half, c), x in zip(_SPLITTINGS[scheme], Xs, strict=True):
        dx = dx + c * h * _mask(F.jvp(x, dx, dV, db), half)
    return dx


def _sweep(X, V, b, T, form, activation, gamma, scheme, project, n_layers):
    """The forward sweep: states, and per layer (field, stage inputs, pre-projection)."""
    _check_scheme(form, scheme, project)
    X = np.asarray(X, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = X.shape[1]
    if form in HAMILTONIAN_FORMS and d % 2:
        raise ValueError("Hamiltonian forms need an even d")
    vs, bs = param_shapes(form, d)
    if V.shape[1:] != vs or b.shape[1:] != bs or len(b) != len(V):
        raise ValueError(f"V {V.shape}, b {b.shape}: expected (G, {vs}), (G, {bs})")
    L, group = layer_groups(len(V), len(V), n_layers)
    h = T / L
    xs = [X]
    layers = []
    for k in range(L):
        F = _Form(form, activation, V[group[k]], b[group[k]], gamma)
        pre, Xs = _step(F, xs[-1], h, scheme)
        xs.append(np.maximum(pre, 0.0) if project == "relu" else pre)
        layers.append((F, Xs, pre))
    return np.stack(xs), layers, group, h


def ext_trajectory(
    X,
    V,
    b,
    T=1.0,
    form="inner",
    activation="tanh",
    gamma=0.0,
    scheme="euler",
    project=None,
    n_layers=None,
):
    """All states (L+1, N, d) in float64; L = n_layers or len(V)."""
    return _sweep(X, V, b, T, form, activation, gamma, scheme, project, n_layers)[0]


def projection_margin(
    X,
    V,
    b,
    T=1.0,
    form="inner",
    activation="tanh",
    gamma=0.0,
    scheme="euler",
    project=None,
    n_layers=None,
):
    """min |state before the projection| over all layers: the distance to relu's kink."""
    layers = _sweep(X, V, b, T, form, activation, gamma, scheme, project, n_layers)[1]
    return min(np.abs(pre).min() for _, _, pre in layers)


def ext_loss_and_grad(
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
    scheme="euler",
    project=None,
    n_layers=None,
):
    """dict with loss, dV, db, dW, dmu, dX and costates (L+1, N, d), in float64."""
    V = np.asarray(V, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    xs, layers, group, h = _sweep(X, V, b, T, form, activation, gamma, scheme, project, n_layers)
    L = len(layers)
    N = xs.shape[1]
    if head in ("state", "linear"):
        Y = np.asarray(Y, dtype=np.float64)
    if W is not None:
        W, mu = np.asarray(W, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    sw = np.ones(N) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    J, p, dW, dmu = _head(head, xs[L], Y, W, mu, sw)
    if w1:
        for k in range(1, L):  # trajectory[1:L]
            J += 0.5 * w1 * h * np.sum(sw * np.sum((xs[k] - Y) ** 2, axis=1))
    counts = np.bincount(group, minlength=len(V)).astype(np.float64)
    sq = np.sum(V * V, axis=tuple(range(1, V.ndim))) + np.sum(b * b, axis=tuple(range(1, b.ndim)))
    J += 0.5 * w2 * h * np.sum(counts * sq)
    if W is not None:
        J += 0.5 * w_head * (np.sum(W * W) + np.sum(mu * mu))
        dW, dmu = dW + w_head * W, dmu + w_head * mu

    dV = np.zeros_like(V)
    db = np.zeros_like(b)
    P = [None] * (L + 1)
    P[L] = p
    for k in range(L - 1, -1, -1):
        F, Xs, pre = layers[k]
        if project == "relu":
            p = (pre > 0) * p
        p, gV, gb = _step_vjp(F, Xs, p, h, scheme)
        dV[group[k]] += gV
        db[group[k]] += gb
        if k >= 1 and w1:
            p = p + h * w1 * sw[:, None] * (xs[k] - Y)
        P[k] = p
    shape_v = (-1,) + (1,) * (V.ndim - 1)
    shape_b = (-1,) + (1,) * (b.ndim - 1)
    dV += w2 * h * counts.reshape(shape_v) * V
    db += w2 * h * counts.reshape(shape_b) * b
    return {
        "loss": J,
        "dV": dV,
        "db": db,
        "dW": dW,
        "dmu": dmu,
        "dX": P[0],
        "costates": np.stack(P),
    }


def ext_tangents(
    X,
    V,
    b,
    dX=None,
    dV=None,
    db=None,
    T=1.0,
    form="inner",
    activation="tanh",
    gamma=0.0,
    scheme="euler",
    project=None,
    n_layers=None,
):
    """Tangents of all states (L+1, N, d) along (dX, dV, db) (None = zero), float64."""
    V = np.asarray(V, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    xs, layers, group, h = _sweep(X, V, b, T, form, activation, gamma, scheme, project, n_layers)
    dx = np.zeros(xs.shape[1:]) if dX is None else np.asarray(dX, dtype=np.float64)
    dV = np.zeros_like(V) if dV is None else np.asarray(dV, dtype=np.float64)
    db = np.zeros_like(b) if db is None else np.asarray(db, dtype=np.float64)
    out = [dx]
    for k, (F, Xs, pre) in enumerate(layers):
        dx = _step_jvp(F, Xs, dx, dV[group[k]], db[group[k]], h, scheme)
        if project == "relu":
            dx = (pre > 0) * dx
        out.append(dx)
    return np.stack(out)


def ext_jvp(X, V, b, dX=None, dV=None, db=None, **net):
    """The directional derivative of the final state, (N, d)."""
    return ext_tangents(X, V, b, dX, dV, db, **net)[-1]


def input_jacobian(X, V, b, per_layer=False, **net):
    """J[i, a, c] = d x_{L+1}[i, a] / d X[i, c]; per_layer: (L+1, N, d, d)."""
    X = np.asarray(X, dtype=np.float64)
    N, d = X.shape
    cols = []
    for c in range(d):
        e = np.zeros((N, d))
        e[:, c] = 1.0
        cols.append(ext_tangents(X, V, b, dX=e, **net))  # (L+1, N, d): column c
    J = np.stack(cols, axis=-1)
    return J if per_layer else J[-1]


def layer_hamiltonian(X, P, Vk, bk, form="inner", activation="tanh", gamma=0.0):
    """(sum_i P_i . f(X_i), d/dVk, d/dbk) for one layer."""
    X = np.asarray(X, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    F = _Form(form, activation, Vk, bk, gamma)
    _, gV, gb = F.vjp(X, P)
    return float(np.sum(P * F.value(X))), gV, gb


def inverse_step(x_next, Vk, bk, h, form, activation, scheme):
    """The exact inverse of one symplectic_euler / verlet step (no projection)."""
    F = _Form(form, activation, Vk, bk)
    x = np.asarray(x_next, dtype=np.float64)
    for half, c in reversed(_SPLITTINGS[scheme]):
        # a sub-step changes only one half, and f's value on that half depends only
        # on the other half, so it is undone by subtracting the same increment
        x = x - c * h * _mask(F.value(x), half)
    return x


def opening_loss_and_grad(X_in, Y, K0, c0, opening, V, b, w_head=0.0, **kw):
    """loss_and_grad of a model with an opening layer x_1 = s0(X_in K0^T + c0), its
    K0, c0 penalised with w_head like the head: dict as loss_and_grad's, plus dK0
    and dc0, with dX the gradient with respect to X_in."""
    s, ds = ACTIVATIONS[opening]
    Z = np.asarray(X_in, np.float64) @ np.asarray(K0, np.float64).T + np.asarray(c0, np.float64)
    out = loss_and_grad(s(Z), Y, V, b, w_head=w_head, **kw)
    Q = out["dX"] * ds(Z)
    out["loss"] += 0.5 * w_head * (np.sum(np.square(K0)) + np.sum(np.square(c0)))
    out["dK0"] = Q.T @ X_in + w_head * np.asarray(K0, np.float64)
    out["dc0"] = Q.sum(axis=0) + w_head * np.asarray(c0, np.float64)
    out["dX"] = Q @ np.asarray(K0, np.float64)
    return out
