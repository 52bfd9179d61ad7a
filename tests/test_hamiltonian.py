"""The Hamiltonian forms and their symplectic schemes: symplecticity, energy,
volume preservation, reversibility and the reversible (state-reconstructing)
backward sweep; and resode.layer_hamiltonian for every form.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference
import resode
from conftest import ACTIVATIONS, HEADS, rel_err
from test_schemes import ALL_FORMS, GRADS, compare, make_ext, net_of

SYMPLECTIC = reference.SYMPLECTIC_SCHEMES
HAM = reference.HAMILTONIAN_FORMS


def omega(m):
    """The canonical symplectic matrix for x = (y, z)."""
    Z, eye = np.zeros((m, m)), np.eye(m)
    return np.block([[Z, eye], [-eye, Z]])


def symplectic_defect(J):
    """max_i |J_i^T Omega J_i - Omega| relative to |J_i|^2."""
    m = J.shape[-1] // 2
    Om = omega(m)
    S = np.einsum("...ac,ae,...ef->...cf", J, Om, J) - Om
    return np.max(np.abs(S) / np.max(np.abs(J), axis=(-1, -2), keepdims=True) ** 2)


def _written_out(form, scheme, X, V, b, h):
    """One step of the spec's formulas, written out (independent of reference.py)."""
    m = X.shape[1] // 2
    y, z = X[:, :m], X[:, m:]
    if form == "hamiltonian":

        def F(z):
            return np.tanh(z @ V[0].T + b[0]) @ V[0]

        def G(y):
            return -np.tanh(y @ V[1].T + b[1]) @ V[1]
    else:

        def F(z):
            return np.tanh(z @ V.T + b[0])

        def G(y):
            return -np.tanh(y @ V + b[1])

    if scheme == "symplectic_euler":
        y1 = y + h * F(z)
        return np.hstack([y1, z + h * G(y1)])
    if scheme == "verlet":
        zh = z + h / 2 * G(y)
        y1 = y + h * F(zh)
        return np.hstack([y1, zh + h / 2 * G(y1)])
    f = np.hstack([F(z), G(y)])  # euler
    return X + h * f


@pytest.mark.parametrize("form", HAM)
@pytest.mark.parametrize("scheme", ["euler", *SYMPLECTIC])
def test_one_step_written_out(form, scheme):
    kw = make_ext(form, "tanh", N=5, d=6, L=1, scheme=scheme, scale=1.0, seed=1)
    want = _written_out(form, scheme, kw["X"], kw["V"][0], kw["b"][0], kw["T"])
    got = resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw))
    ref = reference.ext_trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))[-1]
    assert rel_err(ref, want) < 1e-15
    assert rel_err(got, want) < 1e-14


# ---------------------------------------------------------------------------
# Symplecticity (Chang et al.) and volume preservation (Haber-Ruthotto)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SYMPLECTIC)
@pytest.mark.parametrize("activation", ["tanh", "softplus", "sigmoid"])
def test_chang_flow_is_symplectic(scheme, activation):
    """Each step of symplectic Euler / Verlet on y' = K1^T s(K1 z + b1),
    z' = -K2^T s(K2 y + b2) is a composition of shears with symmetric blocks, so
    the Jacobian of every layer map, and of the whole non-autonomous network,
    satisfies J^T Omega J = Omega to rounding."""
    kw = make_ext("hamiltonian", activation, N=5, d=6, L=20, scheme=scheme, scale=1.0, seed=3)
    kw["T"] = 4.0
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw), per_layer=True)
    assert J.shape == (21, 5, 6, 6)
    assert symplectic_defect(J) < 1e-13
    assert np.abs(J).max() > 1.5  # a non-trivial map, not near the identity


@pytest.mark.parametrize("scheme", ["euler", "heun", "rk4"])
def test_chang_flow_is_not_symplectic_for_runge_kutta(scheme):
    """The check above can fail: explicit RK is not symplectic."""
    kw = make_ext("hamiltonian", "tanh", N=5, d=6, L=20, scheme=scheme, scale=1.0, seed=3)
    kw["T"] = 4.0
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert symplectic_defect(J) > 1e-6


@pytest.mark.parametrize("scheme", SYMPLECTIC)
@pytest.mark.parametrize("activation", ["tanh", "softplus", "relu"])
def test_haber_ruthotto_flow_preserves_volume(scheme, activation):
    """y' = s(K z + b1), z' = -s(K^T y + b2) with a non-symmetric K: each sub-step
    of symplectic Euler / Verlet is a shear, so det J = 1 to rounding, but the map
    is not symplectic (which needs a symmetric s'(.) K)."""
    kw = make_ext("hamiltonian_hr", activation, N=5, d=6, L=20, scheme=scheme, scale=1.0)
    kw["T"] = 4.0
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw), per_layer=True)
    det = np.linalg.det(J)
    assert np.abs(det - 1.0).max() < 1e-12
    assert symplectic_defect(J[-1]) > 1e-3


@pytest.mark.parametrize("form", HAM)
def test_euler_does_not_preserve_volume(form):
    kw = make_ext(form, "tanh", N=5, d=6, L=20, scheme="euler", scale=1.0)
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert np.abs(np.linalg.det(J) - 1.0).max() > 1e-3


# ---------------------------------------------------------------------------
# Energy of an autonomous Chang network
# ---------------------------------------------------------------------------


def _logcosh(u):
    return np.logaddexp(u, -u) - np.log(2.0)


def chang_energy(traj, K1, K2, b1, b2):
    """H(y, z) = sum S(K1 z + b1) + sum S(K2 y + b2), S = log cosh (S' = tanh).

    dH/dz = K1^T tanh(K1 z + b1) = y' and dH/dy = K2^T tanh(K2 y + b2) = -z'."""
    m = K1.shape[0]
    y, z = traj[..., :m], traj[..., m:]
    return _logcosh(z @ K1.T + b1).sum(-1) + _logcosh(y @ K2.T + b2).sum(-1)


def test_chang_energy_is_the_hamiltonian_of_the_field():
    """(y', z') = (dH/dz, -dH/dy) for the reference field, by finite differences of H."""
    rng = np.random.default_rng(0)
    m = 3
    V, b = rng.normal(size=(2, m, m)), rng.normal(size=(2, m))
    x = rng.normal(size=(1, 2 * m))
    f = reference.field_of("hamiltonian", "tanh", V, b, x)
    grad = np.zeros(2 * m)
    for i in range(2 * m):
        e = np.zeros((1, 2 * m))
        e[0, i] = 1e-6
        grad[i] = (chang_energy(x + e, *V, *b) - chang_energy(x - e, *V, *b))[0] / 2e-6
    assert rel_err(f[0], np.concatenate([grad[m:], -grad[:m]])) < 1e-8


ENERGY_STEPS = 10_000


@pytest.mark.parametrize("params", ["K1=K2, b=0", "general"])
@pytest.mark.parametrize("sharing", ["n_layers", "np.repeat"])
def test_energy_bounded_for_symplectic_schemes_while_euler_drifts(params, sharing):
    """Autonomous Chang network, h = 0.1, 10^4 steps, m = 2, 3 samples. Measured with
    the reference: max |H - H0| is 0.031 / 0.110 (K1=K2, b=0 / general) for symplectic
    Euler and 1.8e-4 / 1.0e-3 for Verlet, the same in the first and the last quarter
    of the run; forward Euler drifts by 5.1 / 16 (its mean deviation grows from 0.8 /
    3.7 in the first quarter to 4.6 / 15 in the last; H0 is 0.2 - 3.6)."""
    rng = np.random.default_rng(0)
    m = 2
    K = rng.normal(size=(m, m))
    if params == "K1=K2, b=0":
        K1, K2, b1, b2 = K, K, np.zeros(m), np.zeros(m)
    else:
        K1, K2 = K, rng.normal(size=(m, m))
        b1, b2 = 0.3 * rng.normal(size=m), 0.3 * rng.normal(size=m)
    X = rng.normal(size=(3, 2 * m))
    V, b = np.stack([K1, K2])[None], np.stack([b1, b2])[None]
    L, h = ENERGY_STEPS, 0.1
    common = {"T": h * L, "form": "hamiltonian", "activation": "tanh"}
    if sharing == "n_layers":
        common["n_layers"] = L
    else:
        V, b = np.repeat(V, L, axis=0), np.repeat(b, L, axis=0)
    dev = {}
    for scheme in ("symplectic_euler", "verlet", "euler"):
        traj = resode.trajectory(X, V, b, **common, scheme=scheme)
        assert traj.shape == (L + 1, 3, 2 * m)
        E = chang_energy(traj, K1, K2, b1, b2)
        dev[scheme] = np.abs(E - E[0]).max(axis=1)  # worst sample, per step
    q = L // 4
    for scheme, bound in (("symplectic_euler", 0.25), ("verlet", 3e-3)):
        d = dev[scheme]
        assert d.max() < bound, (scheme, d.max())
        assert d[-q:].max() <= 1.2 * d[:q].max() + 1e-12, scheme  # no growth
    d = dev["euler"]
    assert d[-1] > 1.0 and d[-q:].mean() > 2 * d[:q].mean()  # Euler drifts
    assert d.max() > 20 * dev["symplectic_euler"].max()


def test_energy_verlet_is_second_order():
    """The Verlet energy error scales like h^2 (halving h divides it by about 4)."""
    rng = np.random.default_rng(1)
    m = 2
    K = rng.normal(size=(m, m))
    V, b = np.stack([K, K])[None], np.zeros((1, 2, m))
    X = rng.normal(size=(3, 2 * m))
    errs = []
    for h in (0.1, 0.05):
        L = round(100 / h)
        traj = resode.trajectory(X, V, b, T=h * L, form="hamiltonian", scheme="verlet", n_layers=L)
        E = chang_energy(traj, K, K, 0.0, 0.0)
        errs.append(np.abs(E - E[0]).max())
    assert 3.0 < errs[0] / errs[1] < 5.0, errs


# ---------------------------------------------------------------------------
# Exact reversibility
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", HAM)
@pytest.mark.parametrize("scheme", SYMPLECTIC)
def test_each_step_is_undone_by_the_inverse_step(form, scheme):
    """The reference's inverse step (subtract the same increments in reverse order)
    recovers every state of resode's trajectory from the next one to rounding, and
    the input from the output after 50 layers."""
    kw = make_ext(form, "tanh", N=6, d=6, L=50, scheme=scheme, scale=1.0, seed=2)
    kw["T"] = 5.0
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))
    h = kw["T"] / 50
    x = traj[-1]
    for k in range(49, -1, -1):
        step_back = reference.inverse_step(
            traj[k + 1], kw["V"][k], kw["b"][k], h, form, "tanh", scheme
        )
        assert rel_err(step_back, traj[k]) < 1e-14
        x = reference.inverse_step(x, kw["V"][k], kw["b"][k], h, form, "tanh", scheme)
    assert rel_err(x, kw["X"]) < 1e-11


@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_haber_ruthotto_verlet_runs_backwards_with_negated_parameters(activation):
    """For an odd activation, (K, b) -> (-K, -b) turns f into -f; a Verlet step with
    -f is the Verlet step with -h, the exact inverse. So running the reversed network
    with negated parameters returns the input, to rounding (resode alone)."""
    kw = make_ext("hamiltonian_hr", activation, N=7, d=6, L=40, scheme="verlet", scale=1.0)
    kw["T"] = 3.0
    net = net_of(kw)
    out = resode.forward(kw["X"], kw["V"], kw["b"], **net)
    back = resode.forward(out, -kw["V"][::-1], -kw["b"][::-1], **net)
    assert rel_err(out, kw["X"]) > 0.1
    assert rel_err(back, kw["X"]) < 1e-12


# ---------------------------------------------------------------------------
# reversible=True: states reconstructed in the backward sweep
# ---------------------------------------------------------------------------


def _reversible_vs_stored(kw, tol):
    stored = resode.loss_and_grad(**kw, input_grad=True)
    rev = resode.loss_and_grad(**kw, input_grad=True, reversible=True)
    worst = abs(rev.loss - stored.loss) / abs(stored.loss)
    for name in GRADS:
        a, b = getattr(rev, name), getattr(stored, name)
        if b is None:
            assert a is None
        else:
            assert a.dtype == b.dtype and a.shape == b.shape
            worst = max(worst, rel_err(a, b))
    assert worst < tol, worst
    return worst


@pytest.mark.parametrize(
    ("form", "scheme", "head"), list(itertools.product(HAM, SYMPLECTIC, HEADS))
)
def test_reversible_equals_stored(form, scheme, head):
    """L = 60, h = 0.05, scale 0.7, float64. Measured against resode's stored-state
    sweep: the largest relative difference over the loss and all gradients is 3e-16 to
    9e-16 over these 16 cases (the reference's inverse step reconstructs the states to
    2e-16 to 3e-16 relative); asserted: 1e-10."""
    kw = make_ext(form, "tanh", head, N=6, d=6, L=60, scheme=scheme, scale=0.7, seed=4)
    kw["T"] = 3.0
    _reversible_vs_stored(kw, 1e-10)
    compare(kw, 1e-10, reversible=True)  # and against the reference


@pytest.mark.parametrize("form", HAM)
@pytest.mark.parametrize("scheme", SYMPLECTIC)
def test_reversible_with_sharing_and_running_cost(form, scheme):
    """Measured: at most 4e-16 relative (asserted 1e-10)."""
    kw = make_ext(
        form, "tanh", "state", N=6, d=4, L=1, G=3, n_layers=50, scheme=scheme, scale=0.7, w1=0.4
    )
    _reversible_vs_stored(kw, 1e-10)
    compare(kw, 1e-10, reversible=True)


@pytest.mark.parametrize("form", HAM)
def test_reversible_float32(form):
    """Measured: 3e-8 to 4e-8 relative (asserted 1e-5)."""
    kw = make_ext(form, "tanh", "softmax", N=6, L=20, scheme="verlet", dtype=np.float32)
    _reversible_vs_stored(kw, 1e-5)
    compare(kw, 2e-5, reversible=True)


@pytest.mark.parametrize("form", HAM)
@pytest.mark.parametrize("scheme", SYMPLECTIC)
def test_reversible_across_blocks_and_threads(form, scheme):
    nb = resode._core.block_size(4, np.dtype(np.float64))
    kw = make_ext(form, "tanh", "linear", N=2 * nb + 5, L=30, scheme=scheme, seed=5)
    _reversible_vs_stored(kw, 1e-10)
    runs = []
    for threads in (1, 2, 3):
        g = resode.loss_and_grad(**kw, input_grad=True, reversible=True, threads=threads)
        runs.append([np.float64(g.loss), g.dV, g.db, g.dW, g.dmu, g.dX])
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert a.tobytes() == b.tobytes()


@pytest.mark.slow
@pytest.mark.parametrize("form", HAM)
@pytest.mark.parametrize("scheme", SYMPLECTIC)
def test_reversible_deep(form, scheme):
    """L = 5000, T = 50: the reconstruction error grows with depth but stays small.
    Measured: 2e-15 (Haber-Ruthotto) and 1.6e-14 (Chang) relative (asserted 1e-10)."""
    kw = make_ext(form, "tanh", "state", N=64, d=8, L=5000, scheme=scheme, scale=0.5)
    kw["T"] = 50.0
    worst = _reversible_vs_stored(kw, 1e-10)
    print(f"reversible vs stored, {form} {scheme}, L=5000: {worst:.2e}")


def test_reversible_default_is_false_and_flag_is_bool():
    kw = make_ext("hamiltonian", "tanh", "state", N=4, L=5, scheme="verlet")
    a = resode.loss_and_grad(**kw)
    b = resode.loss_and_grad(**kw, reversible=False)
    assert a.loss == b.loss and a.dV.tobytes() == b.dV.tobytes()


REV_BAD = [
    # (words one of which the message names, keyword arguments)
    ("reversible|scheme", make_ext("hamiltonian", scheme="euler")),
    ("reversible|scheme", make_ext("hamiltonian_hr", scheme="rk4")),
    ("reversible|scheme", make_ext("hamiltonian", scheme="heun")),
    ("reversible|scheme|form", make_ext("inner", scheme="rk4")),
    ("reversible|scheme|form", make_ext("resnet_d")),
    ("reversible|project", make_ext("hamiltonian", scheme="verlet", project="relu")),
    ("reversible|project", make_ext("hamiltonian_hr", scheme="symplectic_euler", project="relu")),
]


@pytest.mark.parametrize(("words", "kw"), REV_BAD)
def test_reversible_refuses_what_it_cannot_reconstruct(words, kw):
    with pytest.raises(ValueError, match=words):
        resode.loss_and_grad(**kw, reversible=True)


# ---------------------------------------------------------------------------
# resode.layer_hamiltonian: sum_i P_i . f(X_i; V, b) and its parameter gradient
# ---------------------------------------------------------------------------


def _one_layer(form, activation="tanh", N=6, d=4, seed=0, dtype=np.float64):
    kw = make_ext(form, activation, N=N, d=d, L=1, seed=seed, dtype=dtype, scale=0.8)
    P = np.random.default_rng(seed + 7).normal(size=(N, d)).astype(dtype)
    return kw["X"], P, kw["V"][0], kw["b"][0], kw["gamma"]


@pytest.mark.parametrize("form", ALL_FORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_layer_hamiltonian_against_reference(form, activation):
    X, P, V, b, gamma = _one_layer(form, activation)
    val, dV, db = resode.layer_hamiltonian(
        X, P, V, b, form=form, activation=activation, gamma=gamma
    )
    rval, rdV, rdb = reference.layer_hamiltonian(X, P, V, b, form, activation, gamma)
    assert rel_err(float(val), rval) < 1e-13
    assert dV.shape == V.shape and db.shape == b.shape
    assert dV.dtype == np.float64 and db.dtype == np.float64
    assert rel_err(dV, rdV) < 1e-13
    assert rel_err(db, rdb) < 1e-13


@pytest.mark.parametrize("form", ALL_FORMS)
def test_layer_hamiltonian_float32(form):
    X, P, V, b, gamma = _one_layer(form, dtype=np.float32)
    val, dV, db = resode.layer_hamiltonian(X, P, V, b, form=form, gamma=gamma)
    rval, rdV, rdb = reference.layer_hamiltonian(X, P, V, b, form, "tanh", gamma)
    assert dV.dtype == np.float32 and db.dtype == np.float32
    assert rel_err(float(val), rval) < 1e-5
    assert rel_err(dV, rdV) < 1e-5 and rel_err(db, rdb) < 1e-5


@pytest.mark.parametrize("form", ALL_FORMS)
@pytest.mark.parametrize("activation", ["tanh", "softplus", "sigmoid"])
def test_layer_hamiltonian_finite_differences(form, activation):
    X, P, V, b, gamma = _one_layer(form, activation, seed=1)
    opts = {"form": form, "activation": activation, "gamma": gamma}
    _, dV, db = resode.layer_hamiltonian(X, P, V, b, **opts)
    for grad, which in ((dV, 0), (db, 1)):
        base = (V, b)[which]
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1, -1):
                pert = base.copy()
                pert[idx] += sign * 1e-6
                args = (pert, b) if which == 0 else (V, pert)
                fd[idx] += sign * float(resode.layer_hamiltonian(X, P, *args, **opts)[0])
        assert rel_err(grad, fd / 2e-6) < 1e-6, which


@pytest.mark.parametrize("form", ALL_FORMS)
def test_layer_hamiltonian_value_is_p_dot_field(form):
    """The value against f computed by a forward step: h f(x) = forward(x) - x with
    one Euler layer (so this ties layer_hamiltonian's f to the sweep's f)."""
    X, P, V, b, gamma = _one_layer(form, seed=2)
    h = 1e-3
    step = resode.forward(X, V[None], b[None], T=h, form=form, gamma=gamma)
    val = float(resode.layer_hamiltonian(X, P, V, b, form=form, gamma=gamma)[0])
    assert rel_err(val, np.sum(P * (step - X)) / h) < 1e-9


@pytest.mark.parametrize("form", ALL_FORMS)
def test_layer_hamiltonian_gives_the_euler_parameter_gradient(form):
    """For scheme='euler' (no projection): dJ/dtheta_k = h dH/dtheta(x_k, p_{k+1})
    + w2 h theta_k, with the costates of resode.costates."""
    kw = make_ext(form, "tanh", "linear", N=5, L=4, seed=3)
    g = resode.loss_and_grad(**kw)
    P = resode.costates(**kw)
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))
    h = kw["T"] / 4
    for k in range(4):
        _, dV, db = resode.layer_hamiltonian(
            traj[k], P[k + 1], kw["V"][k], kw["b"][k], form=form, gamma=kw["gamma"]
        )
        assert rel_err(h * dV + kw["w2"] * h * kw["V"][k], g.dV[k]) < 1e-12
        assert rel_err(h * db + kw["w2"] * h * kw["b"][k], g.db[k]) < 1e-12


@pytest.mark.parametrize("form", ["inner", "symmetric", "resnet_d", "hamiltonian"])
def test_layer_hamiltonian_threads_bitwise(form):
    nb = resode._core.block_size(4, np.dtype(np.float64))
    X, P, V, b, _ = _one_layer(form, N=2 * nb + 5)
    runs = [resode.layer_hamiltonian(X, P, V, b, form=form, threads=t) for t in (1, 2, 3)]
    for other in runs[1:]:
        for a, c in zip(runs[0], other, strict=True):
            assert np.asarray(a).tobytes() == np.asarray(c).tobytes()


def test_layer_hamiltonian_bad_inputs():
    X, P, V, b, _ = _one_layer("inner")
    with pytest.raises(ValueError, match="V"):
        resode.layer_hamiltonian(X, P, V[None], b, form="inner")
    with pytest.raises(ValueError, match="V"):
        resode.layer_hamiltonian(X, P, V, b, form="resnet_d")
    with pytest.raises(ValueError, match="P"):
        resode.layer_hamiltonian(X, P[:, :3], V, b, form="inner")
    with pytest.raises(ValueError, match="P"):
        resode.layer_hamiltonian(X, P[:4], V, b, form="inner")
    Xo, Po = X[:, :3], P[:, :3]
    with pytest.raises(ValueError, match=r"X|even|d "):
        resode.layer_hamiltonian(Xo, Po, np.zeros((2, 1, 1)), np.zeros((2, 1)), form="hamiltonian")
