"""Training by the method of successive approximations (resode.msa).

The layer step is checked against a brute-force (scipy) minimisation of the
layer objective written here from Li et al.'s extended Hamiltonian with the
full sweeps (state and costate residuals as such, the running cost included),
and the optimisers against the loss they must reduce.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference as R
import resode
from resode import EarlyStopping, ResNetODE, datasets
from resode.msa import MSA, ExtendedMSA, layer_objective, layer_step

FORMS = ("inner", "outer", "symmetric", "antisymmetric")

# -- NumPy stand-ins for the C++ sweeps (docs/mathematics.md), used until they exist ----------


def _vjp(form, activation, Vk, bk, X, P, gamma):
    """(df/dx)^T p per row, and the (V, b) gradient of sum_i p_i . f(x_i)."""
    s, ds = R.ACTIVATIONS[activation]
    A = R._matrix(form, Vk, gamma)
    if form == "inner":
        return ds(X) * (P @ A), P.T @ s(X), P.sum(axis=0)
    z = X @ A.T + bk
    if form == "symmetric":
        u = ds(z) * (P @ A.T)
        return -u @ A, -(s(z).T @ P + u.T @ X), -u.sum(axis=0)
    delta = ds(z) * P
    M = delta.T @ X
    return delta @ A, (M - M.T if form == "antisymmetric" else M), delta.sum(axis=0)


def np_costates(X, Y, V, b, *, T=1.0, form="inner", activation="tanh", head="state", **cost):
    """P[k] = dJ/d trajectory[k], shape (L+1, N, d)."""
    W, mu, w1, gamma = cost.get("W"), cost.get("mu"), cost.get("w1", 0.0), cost.get("gamma", 0.0)
    sample_weight = cost.get("sample_weight")
    dtype = np.asarray(X).dtype
    X, V, b = (np.asarray(a, dtype=np.float64) for a in (X, V, b))
    L, N = len(V), len(X)
    h = T / L
    sw = np.ones(N) if sample_weight is None else np.asarray(sample_weight, np.float64)
    Y = np.asarray(Y, np.float64) if head in ("state", "linear") else np.asarray(Y)
    if W is not None:
        W, mu = np.asarray(W, np.float64), np.asarray(mu, np.float64)
    xs = R.trajectory(X, V, b, T, form, activation, gamma)
    p = R._head(head, xs[L], Y, W, mu, sw)[1]
    P = [p]
    for k in range(L - 1, -1, -1):
        p = p + h * _vjp(form, activation, V[k], b[k], xs[k], p, gamma)[0]
        if k >= 1 and w1:
            p = p + h * w1 * sw[:, None] * (xs[k] - Y)
        P.append(p)
    return np.stack(P[::-1]).astype(dtype)


def np_layer_hamiltonian(X, P, V, b, *, form="inner", activation="tanh", gamma=0.0, threads=None):
    dtype = np.asarray(X).dtype
    X, P, V, b = (np.asarray(a, dtype=np.float64) for a in (X, P, V, b))
    _, gV, gb = _vjp(form, activation, V, b, X, P, gamma)
    value = float(np.sum(P * R.field(form, activation, V, b, X, gamma)))
    return value, gV.astype(dtype), gb.astype(dtype)


NATIVE = hasattr(resode, "costates") and hasattr(resode, "layer_hamiltonian")


@pytest.fixture(autouse=True)
def sweeps(monkeypatch):
    """The package's costates / layer_hamiltonian, or the NumPy stand-ins until they land."""
    if not NATIVE:
        monkeypatch.setattr(resode, "costates", np_costates, raising=False)
        monkeypatch.setattr(resode, "layer_hamiltonian", np_layer_hamiltonian, raising=False)


# -- the layer objective, written independently from Li et al. (2018) ----------------------------


def _tiny(form="inner", activation="tanh", *, N=6, d=2, L=3, seed=0, w2=0.4):
    rng = np.random.default_rng(seed)
    kw = {
        "X": rng.normal(size=(N, d)),
        "Y": rng.normal(size=(N, d)),
        "V": 0.6 * rng.normal(size=(L, d, d)),
        "b": 0.3 * rng.normal(size=(L, d)),
        "T": 1.5,
        "form": form,
        "activation": activation,
        "gamma": 0.1 if form == "antisymmetric" else 0.0,
        "w1": 0.3,
        "w2": w2,
        "sample_weight": rng.uniform(0.5, 2.0, size=N),
    }
    return kw


class Brute:
    """M_k(theta) from the full sweeps: h sum p_{k+1}.f + (h w2/2)|theta|^2
    + (rho/2) sum w |x_{k+1} - x_k - h f|^2
    + (rho/2) sum (1/w) |p_k - p_{k+1} - h (df/dx)^T p_{k+1} - h w1 w (x_k - y)|^2."""

    def __init__(self, kw, k, rho):
        net = {key: kw[key] for key in ("T", "form", "activation", "gamma")}
        self.xs = R.trajectory(kw["X"], kw["V"], kw["b"], **net)
        self.ps = np_costates(**kw)
        self.kw, self.k, self.rho = kw, k, rho
        self.h = kw["T"] / len(kw["V"])
        self.d = kw["X"].shape[1]

    def __call__(self, theta):
        kw, k, h, d = self.kw, self.k, self.h, self.d
        V, b = theta[: d * d].reshape(d, d), theta[d * d :]
        x, x_next, p, p_next = self.xs[k], self.xs[k + 1], self.ps[k], self.ps[k + 1]
        w = kw["sample_weight"]
        f = R.field(kw["form"], kw["activation"], V, b, x, kw["gamma"])
        jtp = _vjp(kw["form"], kw["activation"], V, b, x, p_next, kw["gamma"])[0]
        running = h * kw["w1"] * w[:, None] * (x - kw["Y"]) if k >= 1 else 0.0
        state = x_next - x - h * f
        costate = p - p_next - h * jtp - running
        return (
            h * np.sum(p_next * f)
            + 0.5 * h * kw["w2"] * np.sum(theta * theta)
            + 0.5 * self.rho * np.sum(w * np.sum(state**2, axis=1))
            + 0.5 * self.rho * np.sum(np.sum(costate**2, axis=1) / w)
        )

    def args(self):
        """The arguments of layer_step / layer_objective for layer k."""
        kw, k = self.kw, self.k
        return (self.xs[k], self.ps[k + 1], kw["V"][k], kw["b"][k]), {
            "h": self.h,
            "form": kw["form"],
            "activation": kw["activation"],
            "gamma": kw["gamma"],
            "w2": kw["w2"],
            "rho": self.rho,
            "sample_weight": kw["sample_weight"],
        }

    def theta0(self):
        return np.concatenate([self.kw["V"][self.k].ravel(), self.kw["b"][self.k]])


@pytest.mark.parametrize(
    ("k", "rho", "w2"), [(0, 0.0, 0.4), (1, 0.0, 0.4), (0, 0.7, 0.4), (1, 0.7, 0.4), (2, 3.0, 0.0)]
)
def test_exact_layer_step_is_the_brute_force_minimiser(k, rho, w2):
    from scipy.optimize import minimize

    brute = Brute(_tiny(w2=w2), k, rho)
    args, opts = brute.args()
    V, b = layer_step(*args, **opts, solver="exact")
    ours = np.concatenate([V.ravel(), b])
    ref = minimize(brute, brute.theta0(), method="BFGS", jac="3-point", options={"gtol": 1e-9}).x
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())
    assert brute(ours) <= brute(ref) + 1e-12
    # and layer_objective is the same function
    assert layer_objective(*args, **opts, at=(V, b))[0] == pytest.approx(brute(ours), rel=1e-12)


def test_basic_msa_step_for_inner_is_explicit():
    brute = Brute(_tiny(), 1, 0.0)
    (x, p, _, _), opts = brute.args()
    V, b = layer_step(x, p, *brute.args()[0][2:], **opts)
    np.testing.assert_allclose(V, -(p.T @ np.tanh(x)) / opts["w2"], rtol=1e-12)
    np.testing.assert_allclose(b, -p.sum(axis=0) / opts["w2"], rtol=1e-12)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "identity"])
def test_layer_objective_and_gradient_match_the_brute_force_objective(form, activation):
    brute = Brute(_tiny(form, activation, seed=1), 1, 0.9)
    args, opts = brute.args()
    rng = np.random.default_rng(2)
    theta = brute.theta0() + 0.3 * rng.normal(size=brute.theta0().size)
    d = brute.d
    at = (theta[: d * d].reshape(d, d), theta[d * d :])
    value, dV, db = layer_objective(*args, **opts, at=at)
    assert value == pytest.approx(brute(theta), rel=1e-12)
    eps = 1e-6
    fd = np.array(
        [(brute(theta + eps * e) - brute(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)]
    )
    np.testing.assert_allclose(np.concatenate([dV.ravel(), db]), fd, rtol=1e-6, atol=1e-8)


def test_layer_gradient_at_the_sweep_is_the_cost_gradient():
    kw = _tiny("outer")
    g = R.loss_and_grad(**kw)
    for k in range(3):
        args, opts = Brute(kw, k, 2.0).args()
        _, dV, db = layer_objective(*args, **opts)
        np.testing.assert_allclose(dV, g["dV"][k], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(db, g["db"][k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("form", FORMS)
def test_gradient_layer_step_reaches_the_brute_force_minimum(form):
    from scipy.optimize import minimize

    brute = Brute(_tiny(form, seed=3), 1, 2.0)
    args, opts = brute.args()
    V, b = layer_step(*args, **opts, solver="gradient", steps=1000, lr=1.0)
    ours = np.concatenate([V.ravel(), b])
    ref = minimize(brute, brute.theta0(), method="BFGS", jac="3-point", options={"gtol": 1e-9})
    assert brute(ours) <= brute(brute.theta0())
    assert brute(ours) == pytest.approx(ref.fun, abs=1e-7 * (1 + abs(ref.fun)))


def test_exact_and_gradient_solvers_agree_for_inner():
    brute = Brute(_tiny(), 2, 1.5)
    args, opts = brute.args()
    exact = layer_step(*args, **opts, solver="exact")
    grad = layer_step(*args, **opts, solver="gradient", steps=500, lr=1.0)
    np.testing.assert_allclose(grad[0], exact[0], atol=1e-6)
    np.testing.assert_allclose(grad[1], exact[1], atol=1e-6)


def test_a_sample_weight_counts_as_repetition():
    kw = _tiny(N=5)
    kw["sample_weight"] = np.array([2.0, 1.0, 1.0, 1.0, 1.0])
    rep = dict(kw, sample_weight=None)
    for key in ("X", "Y"):
        rep[key] = np.concatenate([kw[key], kw[key][:1]])
    steps = []
    for problem in (kw, rep):
        args, opts = Brute(problem, 1, 1.3).args()
        steps.append(layer_step(*args, **opts, solver="exact"))
    np.testing.assert_allclose(steps[0][0], steps[1][0], rtol=1e-10)
    np.testing.assert_allclose(steps[0][1], steps[1][1], rtol=1e-10)


def test_flat_directions_are_left_unchanged():
    # w2 = 0 and a third coordinate that is zero everywhere: M is flat in V[:, 2]'s
    # state part; the exact step keeps what it cannot determine
    kw = _tiny(d=3, w2=0.0)
    kw["X"][:, 2] = 0.0
    kw["V"][:, :, 2] = 0.0
    args, opts = Brute(kw, 0, 1.0).args()
    V, b = layer_step(*args, **opts, solver="exact")
    assert np.isfinite(V).all() and np.isfinite(b).all()


# -- the optimisers in fit ------------------------------------------------------------------------


def _lecture():
    X, labels = datasets.lecture(200, seed=0)
    return X, datasets.lecture_targets(labels)


def _lecture_model(**kw):
    return ResNetODE(2, 20, T=5.0, w1=0.01, w2=1e-3, init_scale=0.5, seed=0, **kw)


def test_extended_msa_reduces_the_loss_on_the_lecture_example():
    X, Y = _lecture()
    m = _lecture_model()
    J0 = m.loss(X, Y) / len(X)
    h = m.fit(X, Y, optimizer=ExtendedMSA(rho=100.0), epochs=30, progress=False)
    assert len(h) == 30 and h.stop_reason == "completed"
    assert h.loss[0] < J0 and np.all(np.diff(h.loss) < 0)
    assert h.loss[-1] < 0.45 * J0
    assert h.loss[-1] == pytest.approx(m.loss(X, Y) / len(X), rel=1e-12)


def test_basic_msa_with_gradient_steps_reduces_the_loss_on_the_lecture_example():
    X, Y = _lecture()
    m = _lecture_model()
    J0 = m.loss(X, Y) / len(X)
    h = m.fit(X, Y, optimizer=MSA(solver="gradient", steps=5), lr=0.2, epochs=10, progress=False)
    assert h.loss[-1] < 0.6 * J0


def test_basic_msa_exact_step_diverges_with_a_small_w2():
    # the known failure of the basic MSA (Li et al.): V_k = -(1/w2) sum p s^T is huge
    X, Y = _lecture()
    m = _lecture_model()
    h = m.fit(X, Y, optimizer="msa", epochs=2, progress=False)
    assert h.loss[-1] > 100 * h.loss[0] or np.abs(m.V).max() > 1e3


@pytest.mark.parametrize("head", ["state", "linear", "softmax", "logistic"])
def test_one_gradient_step_per_layer_is_gradient_descent(head):
    X, Y = _lecture()
    kw = {"w1": 0.01} if head == "state" else {"head": head, "w_head": 1e-2}
    if head == "linear":
        Y, kw["n_outputs"] = X @ [[1.0, 0.5], [-0.5, 2.0]], 2
    elif head != "state":
        Y, kw["n_classes"] = (Y[:, 0] > 1).astype(int), 2
    models = [ResNetODE(2, 8, T=2.0, w2=1e-3, init_scale=0.5, seed=0, **kw) for _ in range(2)]
    msa = MSA(solver="gradient", steps=1)
    ha = models[0].fit(X, Y, optimizer=msa, lr=0.2, epochs=5, progress=False)
    hb = models[1].fit(X, Y, optimizer="gd", lr=0.2, epochs=5, progress=False)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    for name, value in models[0].parameters().items():
        np.testing.assert_allclose(value, models[1].parameters()[name], rtol=1e-10, atol=1e-14)


def test_msa_trains_a_classifier_head():
    X, y = datasets.moons(200, seed=0)
    m = ResNetODE(2, 10, T=3.0, head="softmax", n_classes=2, w2=1e-3, init_scale=0.5, seed=0)
    W0 = m.W.copy()
    h = m.fit(X, y, optimizer=ExtendedMSA(rho=10.0), lr=0.5, epochs=15, progress=False)
    assert h.loss[-1] < 0.7 * h.loss[0] and h.accuracy[-1] >= 0.85
    assert not np.array_equal(m.W, W0)


@pytest.mark.parametrize("head", ["linear", "logistic"])
def test_msa_with_other_heads_and_forms(head):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    Y = X @ [[1.0], [-0.5]] if head == "linear" else (X[:, 0] > 0).astype(int)
    kw = {"n_outputs": 1} if head == "linear" else {}
    m = ResNetODE(2, 6, form="outer", head=head, w2=1e-2, init_scale=0.5, seed=0, **kw)
    J0 = m.loss(X, Y)
    m.fit(X, Y, optimizer=ExtendedMSA(rho=5.0, steps=3), lr=0.3, epochs=8, progress=False)
    assert m.loss(X, Y) < 0.8 * J0


def test_optimizer_names_callbacks_early_stopping_and_progress():
    X, Y = _lecture()
    seen = []
    h = _lecture_model().fit(
        X, Y, optimizer="emsa", epochs=20, progress=True, callbacks=[lambda e, g, m: seen.append(e)]
    )
    assert seen == list(range(20)) and len(h.loss) == len(h.lr) == len(h.time) == 20
    stopper = EarlyStopping("loss", patience=2, min_delta=1e9)
    h = _lecture_model().fit(X, Y, optimizer="msa", epochs=20, early_stopping=stopper)
    assert h.stop_reason == "early_stopping" and len(h) == 3
    assert isinstance(resode.optim.make_optimizer("emsa"), ExtendedMSA)
    assert resode.optim.MSA is MSA


def test_minibatch_msa_and_float32():
    X, Y = _lecture()
    m = _lecture_model(dtype="float32")
    h = m.fit(
        X, Y.astype(np.float32), optimizer=ExtendedMSA(rho=100.0), batch_size=50, epochs=5, seed=0
    )
    assert m.V.dtype == np.float32 and np.all(np.diff(h.loss) < 0)


def test_interrupt_inside_an_msa_step_keeps_the_last_completed_step(monkeypatch):
    X, Y = _lecture()
    calls = {"n": 0}
    costates = resode.costates

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return costates(*args, **kwargs)

    monkeypatch.setattr(resode, "costates", interrupted)
    after = []
    m = _lecture_model()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        h = m.fit(
            X, Y, optimizer="emsa", epochs=10, callbacks=[lambda e, g, m: after.append(m.V.copy())]
        )
    assert h.stop_reason == "interrupted" and len(h) == 2
    np.testing.assert_array_equal(m.V, after[-1])


def test_bad_msa_arguments():
    with pytest.raises(ValueError, match="rho"):
        MSA(rho=-1.0)
    with pytest.raises(ValueError, match="rho"):
        ExtendedMSA(rho=0.0)
    with pytest.raises(ValueError, match="solver"):
        MSA(solver="newton")
    with pytest.raises(TypeError, match="steps"):
        MSA(steps=2.5)
    brute = Brute(_tiny("outer"), 0, 1.0)
    args, opts = brute.args()
    with pytest.raises(ValueError, match="form='inner'"):
        layer_step(*args, **opts, solver="exact")
    with pytest.raises(ValueError, match="w2 > 0"):
        layer_step(*args, **{**opts, "form": "inner", "w2": 0.0, "rho": 0.0}, solver="exact")
    with pytest.raises(ValueError, match="P"):
        layer_step(args[0], args[1][:-1], *args[2:], **opts)
    with pytest.raises(ValueError, match="V"):
        layer_objective(args[0], args[1], args[2][:1], args[3], **opts)
    with pytest.raises(ValueError, match="h"):
        layer_step(*args, **{**opts, "h": 0.0})
    with pytest.raises(ValueError, match="sample_weight"):
        layer_step(*args, **{**opts, "sample_weight": -np.ones(6)})


def test_unsupported_networks_are_refused():
    X, Y = _lecture()
    m = ResNetODE(2, 4, form="resnet_d", init_scale=0.5, seed=0)
    with pytest.raises(ValueError, match="form"):
        m.fit(X, Y, optimizer="emsa", epochs=1, progress=False)
    m = _lecture_model()
    cost = {
        "T": 5.0,
        "form": "inner",
        "activation": "tanh",
        "head": "state",
        "W": None,
        "mu": None,
        "w1": 0.0,
        "w2": 1e-3,
        "w_head": 0.0,
        "gamma": 0.0,
        "sample_weight": None,
        "threads": None,
    }
    for key, value in (("scheme", "rk4"), ("project", "relu"), ("n_layers", 40)):
        with pytest.raises(ValueError, match=key):
            MSA().update(m.parameters(), X, Y, {**cost, key: value}, 0.1)


@pytest.mark.skipif(not NATIVE, reason="resode.costates / layer_hamiltonian not built yet")
def test_the_native_sweeps_match_the_numpy_stand_ins():
    kw = _tiny("symmetric", N=7, d=3, L=4)
    np.testing.assert_allclose(resode.costates(**kw), np_costates(**kw), rtol=1e-12, atol=1e-14)
    P = np.random.default_rng(0).normal(size=(7, 3))
    net = {"form": "symmetric", "activation": "tanh"}
    ours = resode.layer_hamiltonian(kw["X"], P, kw["V"][0], kw["b"][0], **net)
    ref = np_layer_hamiltonian(kw["X"], P, kw["V"][0], kw["b"][0], **net)
    assert ours[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-12)
    np.testing.assert_allclose(ours[2], ref[2], rtol=1e-12)
