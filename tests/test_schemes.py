"""Runge-Kutta and symplectic schemes, the new forms and the relu projection,
against the independent NumPy reference (reference.py) and finite differences.

Also home of ``make_ext``, the random problems of the new features, which
test_hamiltonian / test_tangent / test_sharing import.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference
import resode
from conftest import ACTIVATIONS, HEADS, fd_gradient, make_problem, rel_err

ALL_FORMS = reference.FORM_NAMES_OLD + reference.NEW_FORMS
GRADS = {"dV": "V", "db": "b", "dW": "W", "dmu": "mu", "dX": "X"}
NET_KEYS = ("T", "form", "activation", "gamma", "scheme", "project", "n_layers")


def schemes_for(form):
    symplectic = reference.SYMPLECTIC_SCHEMES if form in reference.HAMILTONIAN_FORMS else ()
    return reference.RK_SCHEMES + symplectic


FORM_SCHEMES = [(f, s) for f in ALL_FORMS for s in schemes_for(f)]
# the combinations that are new in this change (euler on the four old forms is
# covered by test_reference.py, but costs nothing to repeat with scheme="euler")
CASES = [(f, s, h) for (f, s) in FORM_SCHEMES for h in HEADS]


def make_ext(
    form="inner",
    activation="tanh",
    head="state",
    *,
    N=4,
    d=4,
    L=3,
    G=None,
    scheme="euler",
    project=None,
    n_layers=None,
    dtype=np.float64,
    seed=0,
    scale=0.5,
    **more,
):
    """Keyword arguments of loss_and_grad for a random problem of any form.

    V, b get G groups (default L) of the form's per-layer shapes; n_layers is
    passed only when given.
    """
    kw = make_problem("inner", activation, head, N=N, d=d, L=1, dtype=dtype, seed=seed, **more)
    rng = np.random.default_rng(1000 + seed)
    vs, bs = reference.param_shapes(form, d)
    G = L if G is None else G
    kw["V"] = (scale * rng.normal(size=(G, *vs))).astype(dtype)
    kw["b"] = (scale * rng.normal(size=(G, *bs))).astype(dtype)
    kw["form"] = form
    kw["gamma"] = 0.2 if form == "antisymmetric" else 0.0
    kw["scheme"] = scheme
    kw["project"] = project
    if n_layers is not None:
        kw["n_layers"] = n_layers
    return kw


def net_of(kw):
    """The keywords of forward / trajectory / jvp / input_jacobian."""
    return {k: kw[k] for k in NET_KEYS if k in kw}


def compare(kw, tol, **extra):
    """resode.loss_and_grad against the reference; returns resode's result."""
    got = resode.loss_and_grad(**kw, input_grad=True, **extra)
    ref = reference.loss_and_grad(**kw)
    assert rel_err(got.loss, ref["loss"]) < tol
    for name in GRADS:
        if ref[name] is None:
            assert getattr(got, name) is None, name
        else:
            assert getattr(got, name).dtype == kw["X"].dtype, name
            assert rel_err(getattr(got, name), ref[name]) < tol, name
    return got


def projection_margin(kw):
    """min |pre-projection state| over all layers (distance to the relu kink)."""
    return reference.projection_margin(kw["X"], kw["V"], kw["b"], **net_of(kw))


# ---------------------------------------------------------------------------
# The oracle itself: its generic sweep must reproduce the tables of docs/mathematics.md.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("head", HEADS)
def test_reference_generic_euler_equals_design_tables(head):
    """The generic (stage-based) reference path, on the four old forms with
    scheme='euler', equals the direct transcription of the tables
    of docs/mathematics.md."""
    for form, act in itertools.product(reference.FORM_NAMES_OLD, ACTIVATIONS):
        kw = make_problem(form, act, head, N=5, d=3, L=4)
        old = reference.loss_and_grad(**kw)
        new = reference.ext_loss_and_grad(**kw)
        for name in ("loss", *GRADS):
            if old[name] is None:
                assert new[name] is None
            else:
                assert rel_err(new[name], old[name]) < 1e-14, (form, act, name)


@pytest.mark.parametrize("form", ALL_FORMS)
def test_reference_gradients_match_its_own_finite_differences(form):
    """The reference's adjoint against central differences of the reference's loss,
    for every scheme, with projection and sharing."""
    for scheme, extra in itertools.product(
        schemes_for(form), [{}, {"project": "relu"}, {"n_layers": 5}]
    ):
        kw = make_ext(form, "tanh", "softmax", N=3, L=3, scheme=scheme, seed=1, **extra)
        g = reference.ext_loss_and_grad(**kw)
        for name, key in GRADS.items():
            fd = fd_gradient(kw, key, loss=lambda **k: reference.ext_loss_and_grad(**k)["loss"])
            assert rel_err(g[name], fd) < 1e-7, (scheme, extra, name)


def test_reference_rk_steps_written_out():
    """One heun and one rk4 step of the reference, against the spec's formulas."""
    kw = make_ext("outer", N=3, L=1)
    X, Vk, bk = kw["X"], kw["V"][0], kw["b"][0]
    h = kw["T"]

    def f(x):
        return reference.field("outer", "tanh", Vk, bk, x)

    k1 = f(X)
    k2 = f(X + h * k1)
    heun = X + h / 2 * (k1 + k2)
    k2 = f(X + h / 2 * k1)
    k3 = f(X + h / 2 * k2)
    k4 = f(X + h * k3)
    rk4 = X + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    for scheme, want in (("heun", heun), ("rk4", rk4)):
        got = reference.ext_trajectory(X, kw["V"], kw["b"], h, "outer", scheme=scheme)[-1]
        assert rel_err(got, want) < 1e-15


# ---------------------------------------------------------------------------
# resode against the reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme", "head"), CASES)
def test_loss_and_grad_float64(form, scheme, head):
    kw = make_ext(form, "tanh", head, N=5, L=4, scheme=scheme)
    got = compare(kw, 1e-12)
    assert rel_err(resode.loss(**kw), got.loss) < 1e-14


@pytest.mark.parametrize(("form", "scheme", "head"), CASES)
def test_loss_and_grad_float32(form, scheme, head):
    compare(make_ext(form, "tanh", head, N=5, L=4, scheme=scheme, dtype=np.float32), 2e-5)


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation(form, scheme, activation):
    compare(make_ext(form, activation, "state", N=5, L=3, scheme=scheme, seed=4), 1e-12)


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_and_trajectory(form, scheme, dtype):
    kw = make_ext(form, "tanh", N=9, L=5, scheme=scheme, dtype=dtype, seed=5)
    net = net_of(kw)
    ref = reference.trajectory(kw["X"], kw["V"], kw["b"], **net)
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net)
    out = resode.forward(kw["X"], kw["V"], kw["b"], **net)
    assert traj.shape == ref.shape == (6, 9, 4)
    assert traj.dtype == dtype and out.dtype == dtype
    assert rel_err(traj, ref) < (1e-13 if dtype == np.float64 else 1e-6)
    np.testing.assert_array_equal(traj[0], kw["X"])
    np.testing.assert_array_equal(traj[-1], out)


@pytest.mark.parametrize(("form", "scheme", "head"), CASES)
def test_gradients_match_finite_differences(form, scheme, head):
    kw = make_ext(form, "tanh", head, N=3, L=3, scheme=scheme, seed=1)
    got = resode.loss_and_grad(**kw, input_grad=True)
    for name, key in GRADS.items():
        if kw.get(key) is None:
            continue
        assert rel_err(getattr(got, name), fd_gradient(kw, key)) < 1e-6, name


@pytest.mark.parametrize("form", ALL_FORMS)
def test_scheme_euler_is_the_default(form):
    kw = make_ext(form, "tanh", "linear", N=5, L=3)
    explicit = resode.loss_and_grad(**kw, input_grad=True)
    kw.pop("scheme")
    kw.pop("project")
    default = resode.loss_and_grad(**kw, input_grad=True)
    for name in ("dV", "db", "dW", "dmu", "dX"):
        np.testing.assert_array_equal(getattr(explicit, name), getattr(default, name))
    assert explicit.loss == default.loss


def test_schemes_differ():
    """A scheme that were ignored would pass the comparisons above only if the
    reference ignored it too; check that the schemes give different outputs."""
    outs = {}
    for scheme in schemes_for("hamiltonian"):
        kw = make_ext("hamiltonian", N=4, L=3, scheme=scheme, scale=1.0)
        outs[scheme] = resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw))
    for a, b in itertools.combinations(outs, 2):
        assert rel_err(outs[a], outs[b]) > 1e-4, (a, b)


# ---------------------------------------------------------------------------
# project="relu": the post-activation ResNet x_{k+1} = relu(Phi_k(x_k))
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme", "head"), CASES)
def test_project_relu_against_reference(form, scheme, head):
    kw = make_ext(form, "tanh", head, N=6, L=4, scheme=scheme, project="relu", seed=7)
    compare(kw, 1e-12)
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert (traj[1:] >= 0).all()
    assert (traj[1:] == 0).any()  # the projection did something


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_project_relu_float32(form, scheme):
    compare(
        make_ext(
            form,
            "tanh",
            "softmax",
            N=6,
            L=4,
            scheme=scheme,
            project="relu",
            dtype=np.float32,
            seed=7,
        ),
        2e-5,
    )


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_project_relu_finite_differences(form, scheme):
    kw = make_ext(form, "tanh", "state", N=3, L=3, scheme=scheme, project="relu", seed=8)
    assert projection_margin(kw) > 1e-4  # away from the kink, where FD is meaningless
    got = resode.loss_and_grad(**kw, input_grad=True)
    for name, key in GRADS.items():
        if kw.get(key) is not None:
            assert rel_err(getattr(got, name), fd_gradient(kw, key)) < 1e-6, name


def test_symmetric_relu_projection_is_resnet_s():
    """form='symmetric' with project='relu' is ResNet-S: x+ = relu(x - h V^T s(Vx + b))."""
    kw = make_ext("symmetric", "tanh", N=5, d=3, L=4, project="relu")
    h = kw["T"] / 4
    x = kw["X"]
    for k in range(4):
        V, b = kw["V"][k], kw["b"][k]
        x = np.maximum(x - h * np.tanh(x @ V.T + b) @ V, 0.0)
    got = resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert rel_err(got, x) < 1e-14


def test_project_relu_left_derivative_at_zero():
    """relu'(0) = 0: with V = 0, b = 0 the network is x -> relu(x); an input that is
    exactly 0 passes no gradient, a positive one passes it whole."""
    X = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    Y = np.full((2, 3), -1.0)
    V, b = np.zeros((2, 3, 3)), np.zeros((2, 3))
    for scheme in reference.RK_SCHEMES:
        g = resode.loss_and_grad(X, Y, V, b, scheme=scheme, project="relu", input_grad=True)
        want = np.where(X > 0, X - Y, 0.0)
        np.testing.assert_array_equal(g.dX, want)
        assert g.loss == pytest.approx(0.5 * np.sum((np.maximum(X, 0) - Y) ** 2), rel=1e-15)


# ---------------------------------------------------------------------------
# Order of convergence against an independent fine solution (scipy, DOP853)
# ---------------------------------------------------------------------------

ORDER = {"euler": 1, "heun": 2, "rk4": 4, "symplectic_euler": 1, "verlet": 2}


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_observed_order_of_convergence(form, scheme):
    """Autonomous ODE (one shared parameter group, n_layers = L): the error of the
    final state against scipy's DOP853 at rtol 1e-13 falls like h^order; the slope
    of a log-log fit over L = 16..128 is within 0.3 of the order (rk4: about 4)."""
    solve_ivp = pytest.importorskip("scipy.integrate").solve_ivp
    kw = make_ext(form, "tanh", N=2, d=4, L=1, scheme=scheme, seed=11, scale=0.7)
    X, V, b, T = kw["X"], kw["V"], kw["b"], 1.0

    def rhs(t, u):
        return reference.field_of(form, "tanh", V[0], b[0], u.reshape(X.shape), kw["gamma"]).ravel()

    fine = solve_ivp(rhs, (0.0, T), X.ravel(), method="DOP853", rtol=1e-13, atol=1e-13)
    exact = fine.y[:, -1].reshape(X.shape)
    Ls = np.array([16, 32, 64, 128])
    errs = []
    for L in Ls:
        out = resode.forward(X, V, b, **{**net_of(kw), "T": T, "n_layers": int(L)})
        errs.append(np.linalg.norm(out - exact))
    slope = np.polyfit(np.log(T / Ls), np.log(errs), 1)[0]
    assert abs(slope - ORDER[scheme]) < 0.3, (slope, errs)
    assert errs[-1] > 1e-12  # still above rounding, so the fit measured the scheme


# ---------------------------------------------------------------------------
# Threads: bitwise identical results
# ---------------------------------------------------------------------------


def _all_outputs(kw, threads):
    g = resode.loss_and_grad(**kw, input_grad=True, threads=threads)
    out = [np.float64(g.loss), g.dV, g.db, g.dX]
    out += [g.dW, g.dmu] if g.dW is not None else []
    out.append(np.float64(resode.loss(**kw, threads=threads)))
    net = net_of(kw)
    out.append(resode.forward(kw["X"], kw["V"], kw["b"], **net, threads=threads))
    out.append(resode.trajectory(kw["X"], kw["V"], kw["b"], **net, threads=threads))
    return out


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("project", [None, "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_identical_across_thread_counts(form, scheme, project, dtype):
    nb = resode._core.block_size(4, np.dtype(dtype))
    head = "softmax" if project else "state"
    for N in (3, 2 * nb + 5):  # fewer than a block, and a partial last block
        kw = make_ext(
            form, "tanh", head, N=N, L=4, scheme=scheme, project=project, dtype=dtype, seed=N
        )
        runs = [_all_outputs(kw, t) for t in (1, 2, 3)]
        for other in runs[1:]:
            for a, b in zip(runs[0], other, strict=True):
                assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------


def _bad(form="inner", head="state", d=4, **over):
    kw = make_ext(form, "tanh", head, N=3, d=d, L=2)
    kw.update(over)
    return kw


BAD = [
    # (words, one of which the message must contain; keyword arguments)
    ("scheme", _bad(scheme="rk5")),
    ("scheme", _bad(scheme="symplectic_euler")),
    ("scheme", _bad(scheme="verlet")),
    ("scheme", _bad("resnet_d", scheme="verlet")),
    ("scheme", _bad("symmetric", scheme="symplectic_euler")),
    ("project", _bad(project="tanh")),
    ("form", {**_bad(), "form": "hamiltonian_xy"}),
    ("V", _bad("resnet_d", V=np.zeros((2, 4, 4)))),
    ("V", _bad("resnet_d", V=np.zeros((2, 3, 4, 4)))),
    ("b", _bad("resnet_d", b=np.zeros((2, 4)))),
    ("V", _bad("hamiltonian", V=np.zeros((2, 4, 4)))),
    ("V", _bad("hamiltonian", V=np.zeros((2, 2, 2)))),
    ("V", _bad("hamiltonian", V=np.zeros((2, 2, 4, 4)))),
    ("b", _bad("hamiltonian", b=np.zeros((2, 4)))),
    ("V", _bad("hamiltonian_hr", V=np.zeros((2, 4, 4)))),
    ("V", _bad("hamiltonian_hr", V=np.zeros((2, 2, 2, 2)))),
    ("b", _bad("hamiltonian_hr", b=np.zeros((2, 2)))),
    ("V", _bad("inner", V=np.zeros((2, 2, 4, 4)))),
    # odd d: the state dimension comes from X
    ("X|even|d ", _bad("hamiltonian", d=3, V=np.zeros((2, 2, 1, 1)), b=np.zeros((2, 2, 1)))),
    ("X|even|d ", _bad("hamiltonian_hr", d=3, V=np.zeros((2, 1, 1)), b=np.zeros((2, 2, 1)))),
    ("X|even|d ", _bad("hamiltonian", d=1, V=np.zeros((2, 2, 0, 0)), b=np.zeros((2, 2, 0)))),
]


@pytest.mark.parametrize(("words", "kw"), BAD)
def test_bad_inputs_raise_value_error_naming_the_argument(words, kw):
    for call in (
        lambda: resode.loss_and_grad(**kw),
        lambda: resode.loss(**kw),
        lambda: resode.forward(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.costates(**kw),
        lambda: resode.jvp(kw["X"], kw["V"], kw["b"], **net_of(kw)),
        lambda: resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw)),
    ):
        with pytest.raises(ValueError, match=words):
            call()


def test_scheme_and_project_must_be_strings_or_none():
    kw = _bad()
    with pytest.raises((TypeError, ValueError), match="scheme"):
        resode.loss_and_grad(**{**kw, "scheme": 4})
    with pytest.raises((TypeError, ValueError), match="project"):
        resode.loss_and_grad(**{**kw, "project": True})
