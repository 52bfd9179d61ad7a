"""The tangent (forward-mode) sweep resode.jvp, input Jacobians and costates:
against the reference, finite differences and the adjoint identity
<p_1, dX> + sum_k <dJ/dtheta_k, dtheta_k> = d/deps J(along the direction).
"""

from __future__ import annotations

import numpy as np
import pytest

import reference
import resode
from conftest import HEADS, rel_err
from test_schemes import FORM_SCHEMES, make_ext, net_of

PROJECTS = [None, "relu"]


def _direction(kw, seed=0, parts="XVb"):
    """A random direction (dX, dV, db) with the shapes (and dtype) of X, V, b."""
    rng = np.random.default_rng(seed)
    out = {}
    for key in "XVb":
        if key in parts:
            out["d" + key] = rng.normal(size=kw[key].shape).astype(kw[key].dtype)
    return out


def _jvp(kw, direction, **extra):
    return resode.jvp(kw["X"], kw["V"], kw["b"], **direction, **net_of(kw), **extra)


def _ref_jvp(kw, direction):
    return reference.ext_jvp(kw["X"], kw["V"], kw["b"], **direction, **net_of(kw))


# ---------------------------------------------------------------------------
# jvp
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("project", PROJECTS)
def test_jvp_against_reference(form, scheme, project):
    kw = make_ext(form, "tanh", N=5, L=4, scheme=scheme, project=project, seed=1)
    for parts in ("XVb", "X", "V", "b"):
        direction = _direction(kw, parts=parts)
        got = _jvp(kw, direction)
        assert got.shape == kw["X"].shape and got.dtype == np.float64
        assert rel_err(got, _ref_jvp(kw, direction)) < 1e-12, parts


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_jvp_float32(form, scheme):
    kw = make_ext(form, "softplus", N=5, L=4, scheme=scheme, dtype=np.float32, seed=2)
    direction = _direction(kw)
    got = _jvp(kw, direction)
    assert got.dtype == np.float32
    assert rel_err(got, _ref_jvp(kw, direction)) < 2e-5


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("project", PROJECTS)
def test_jvp_against_finite_differences(form, scheme, project):
    kw = make_ext(form, "tanh", N=4, L=3, scheme=scheme, project=project, seed=3)
    if project:
        assert reference.projection_margin(kw["X"], kw["V"], kw["b"], **net_of(kw)) > 1e-4
    direction = _direction(kw, seed=4)
    eps = 1e-6

    def moved(sign):
        args = [kw[k] + sign * eps * direction["d" + k] for k in "XVb"]
        return resode.forward(*args, **net_of(kw))

    fd = (moved(1) - moved(-1)) / (2 * eps)
    assert rel_err(_jvp(kw, direction), fd) < 1e-6


def test_jvp_of_nothing_is_zero_and_linear():
    kw = make_ext("resnet_d", "tanh", N=5, L=4, scheme="rk4")
    zero = resode.jvp(kw["X"], kw["V"], kw["b"], **net_of(kw))
    np.testing.assert_array_equal(zero, np.zeros_like(kw["X"]))
    a, b = _direction(kw, seed=1), _direction(kw, seed=2)
    both = {k: 2.0 * a[k] - 3.0 * b[k] for k in a}
    want = 2.0 * _jvp(kw, a) - 3.0 * _jvp(kw, b)
    assert rel_err(_jvp(kw, both), want) < 1e-13


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("head", HEADS)
def test_adjoint_identity(form, scheme, head):
    """<dJ/dX, dX> + <dJ/dV, dV> + <dJ/db, db> equals d/deps J along (dX, dV, db),
    computed forward: <p_{L+1}, jvp> + w2 h sum_k <theta_k, dtheta_k> (w1 = 0, head
    parameters fixed). Rounding only: 1e-12 of the sum of the terms' magnitudes."""
    kw = make_ext(form, "tanh", head, N=5, L=4, scheme=scheme, seed=5, w1=0.0)
    direction = _direction(kw, seed=6)
    g = resode.loss_and_grad(**kw, input_grad=True)
    terms = [g.dX * direction["dX"], g.dV * direction["dV"], g.db * direction["db"]]
    lhs = sum(np.sum(t) for t in terms)
    P = resode.costates(**kw)
    h = kw["T"] / 4
    fwd = [P[-1] * _jvp(kw, direction), kw["w2"] * h * kw["V"] * direction["dV"]]
    fwd.append(kw["w2"] * h * kw["b"] * direction["db"])
    rhs = sum(np.sum(t) for t in fwd)
    scale = sum(np.sum(np.abs(t)) for t in terms + fwd)
    assert abs(lhs - rhs) < 1e-12 * scale, (lhs, rhs)
    # and both against a central difference of resode.loss along the direction
    eps = 1e-6

    def J(sign):
        return resode.loss(**{**kw, **{k: kw[k] + sign * eps * direction["d" + k] for k in "XVb"}})

    assert abs((J(1) - J(-1)) / (2 * eps) - lhs) < 1e-6 * scale


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_adjoint_identity_with_running_cost(form, scheme):
    """With w1 > 0 the running cost needs every state's tangent: that of x_{k+1}
    is the jvp of the network cut after k layers (T scaled to keep h)."""
    L = 4
    kw = make_ext(form, "tanh", "state", N=5, L=L, scheme=scheme, project="relu", seed=7)
    direction = _direction(kw, seed=8)
    g = resode.loss_and_grad(**kw, input_grad=True)
    lhs = np.sum(g.dX * direction["dX"]) + np.sum(g.dV * direction["dV"])
    lhs += np.sum(g.db * direction["db"])
    h = kw["T"] / L
    net = net_of(kw)
    sw = kw["sample_weight"][:, None]
    rhs = np.sum(
        sw * (resode.forward(kw["X"], kw["V"], kw["b"], **net) - kw["Y"]) * _jvp(kw, direction)
    )
    for k in range(1, L):
        cut = {**net, "T": h * k}
        xk = resode.forward(kw["X"], kw["V"][:k], kw["b"][:k], **cut)
        dxk = resode.jvp(
            kw["X"],
            kw["V"][:k],
            kw["b"][:k],
            dX=direction["dX"],
            dV=direction["dV"][:k],
            db=direction["db"][:k],
            **cut,
        )
        rhs += kw["w1"] * h * np.sum(sw * (xk - kw["Y"]) * dxk)
    rhs += kw["w2"] * h * (np.sum(kw["V"] * direction["dV"]) + np.sum(kw["b"] * direction["db"]))
    assert rel_err(lhs, rhs) < 1e-11


# ---------------------------------------------------------------------------
# input_jacobian
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("project", PROJECTS)
def test_input_jacobian_against_reference(form, scheme, project):
    kw = make_ext(form, "tanh", N=5, L=4, scheme=scheme, project=project, seed=9)
    net = net_of(kw)
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net)
    Jl = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net, per_layer=True)
    ref = reference.input_jacobian(kw["X"], kw["V"], kw["b"], per_layer=True, **net)
    assert J.shape == (5, 4, 4) and Jl.shape == (5, 5, 4, 4)
    assert J.dtype == Jl.dtype == np.float64
    assert rel_err(Jl, ref) < 1e-12
    np.testing.assert_array_equal(Jl[0], np.broadcast_to(np.eye(4), (5, 4, 4)))
    assert rel_err(J, Jl[-1]) < 1e-15


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_input_jacobian_float32(form, scheme):
    kw = make_ext(form, "tanh", N=5, L=4, scheme=scheme, seed=9, dtype=np.float32)
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw))
    assert J.dtype == np.float32
    assert rel_err(J, reference.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw))) < 2e-5


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_input_jacobian_against_finite_differences(form, scheme):
    kw = make_ext(form, "tanh", N=4, L=3, scheme=scheme, seed=10)
    net = net_of(kw)
    Jl = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net, per_layer=True)
    fd = np.zeros_like(Jl)
    for c in range(4):
        e = np.zeros_like(kw["X"])
        e[:, c] = 1e-6
        plus = resode.trajectory(kw["X"] + e, kw["V"], kw["b"], **net)
        minus = resode.trajectory(kw["X"] - e, kw["V"], kw["b"], **net)
        fd[..., c] = (plus - minus) / 2e-6
    assert rel_err(Jl, fd) < 1e-6


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[::2])
def test_input_jacobian_times_direction_is_jvp(form, scheme):
    kw = make_ext(form, "tanh", N=6, L=5, scheme=scheme, project="relu", seed=11)
    J = resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net_of(kw))
    direction = _direction(kw, parts="X")
    got = _jvp(kw, direction)
    assert rel_err(np.einsum("nac,nc->na", J, direction["dX"]), got) < 1e-13


# ---------------------------------------------------------------------------
# costates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("project", PROJECTS)
def test_costates_against_reference(form, scheme, head, project):
    kw = make_ext(form, "tanh", head, N=5, L=4, scheme=scheme, project=project, seed=12)
    P = resode.costates(**kw)
    ref = reference.loss_and_grad(**kw)["costates"]
    assert P.shape == (5, 5, 4) and P.dtype == np.float64
    assert rel_err(P, ref) < 1e-12
    for k in range(5):  # every layer, not only the norm of the whole
        assert rel_err(P[k], ref[k]) < 1e-11, k
    dX = resode.loss_and_grad(**kw, input_grad=True).dX
    np.testing.assert_array_equal(P[0], dX)


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[1::3])
def test_costates_float32(form, scheme):
    kw = make_ext(form, "tanh", "softmax", N=5, L=4, scheme=scheme, seed=13, dtype=np.float32)
    P = resode.costates(**kw)
    assert P.dtype == np.float32
    assert rel_err(P, reference.loss_and_grad(**kw)["costates"]) < 2e-5


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES)
def test_costates_are_input_gradients_of_the_tail(form, scheme):
    """P[k] = dJ/dx_{k+1} (1-based): the input gradient of the network made of the
    layers after that state (same h, running cost included), plus the running cost's
    own term at that state. Uses only resode; checks the indexing convention."""
    L = 4
    kw = make_ext(form, "tanh", "state", N=5, L=L, scheme=scheme, seed=14, w1=0.5)
    P = resode.costates(**kw)
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net_of(kw))
    h = kw["T"] / L
    sw = kw["sample_weight"][:, None]
    assert rel_err(P[L], sw * (traj[L] - kw["Y"])) < 1e-14
    for k in range(L):
        tail = {**kw, "X": traj[k], "V": kw["V"][k:], "b": kw["b"][k:], "T": h * (L - k)}
        want = resode.loss_and_grad(**tail, input_grad=True).dX
        if k >= 1:
            want = want + kw["w1"] * h * sw * (traj[k] - kw["Y"])
        assert rel_err(P[k], want) < 1e-12, k


def test_costates_reversible_if_supported():
    kw = make_ext("hamiltonian", "tanh", "softmax", N=5, L=30, scheme="verlet", seed=15)
    try:
        rev = resode.costates(**kw, reversible=True)
    except TypeError:
        pytest.skip("costates has no reversible keyword")
    assert rel_err(rev, resode.costates(**kw)) < 1e-10


# ---------------------------------------------------------------------------
# Threads and bad inputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "scheme"), FORM_SCHEMES[::2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_bitwise(form, scheme, dtype):
    nb = resode._core.block_size(4, np.dtype(dtype))
    kw = make_ext(
        form,
        "tanh",
        "softmax",
        N=2 * nb + 5,
        L=3,
        scheme=scheme,
        project="relu",
        dtype=dtype,
        seed=16,
    )
    direction = _direction(kw)
    net = net_of(kw)
    runs = []
    for t in (1, 2, 3):
        runs.append(
            [
                _jvp(kw, direction, threads=t),
                resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net, threads=t),
                resode.input_jacobian(kw["X"], kw["V"], kw["b"], **net, per_layer=True, threads=t),
                resode.costates(**kw, threads=t),
            ]
        )
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert a.tobytes() == b.tobytes()


def test_jvp_bad_directions():
    kw = make_ext("hamiltonian", "tanh", N=5, L=3, scheme="verlet")
    X, V, b = kw["X"], kw["V"], kw["b"]
    net = net_of(kw)
    for name, bad in (
        ("dX", np.zeros((5, 3))),
        ("dX", np.zeros((4, 4))),
        ("dV", np.zeros((3, 4, 4))),
        ("dV", np.zeros((2, 2, 2, 2))),
        ("db", np.zeros((3, 4))),
        ("dX", np.full((5, 4), np.nan)),
    ):
        with pytest.raises(ValueError, match=name):
            resode.jvp(X, V, b, **{name: bad}, **net)
