"""resode.vjp, the vector-Jacobian product behind the PyTorch and JAX layers:
against finite differences, against loss_and_grad (the state head's costate is
a cotangent), checkpointing and threads, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from resode import _validation as v


def _problem(form="inner", d=4, n=6, G=5, seed=0):
    rng = np.random.default_rng(seed)
    v_shape, b_shape, _, _ = v.param_shapes(form, d)
    V = 0.4 * rng.normal(size=(G, *v_shape))
    if form == "resnet_d":
        V[:, 1] = np.abs(V[:, 1])
    return rng.normal(size=(n, d)), V, 0.4 * rng.normal(size=(G, *b_shape)), rng


CASES = [
    dict(form="inner"),
    dict(form="outer", project="relu", scheme="heun"),
    dict(form="antisymmetric", gamma=0.2, activation="sigmoid"),
    dict(form="resnet_d", scheme="rk4", n_layers=10),
    dict(form="hamiltonian_hr", scheme="verlet"),
]


@pytest.mark.parametrize("opts", CASES, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("traj", [False, True], ids=["forward", "trajectory"])
def test_vjp_matches_central_differences(opts, traj):
    X, V, b, rng = _problem(opts["form"])
    run = resode.trajectory if traj else resode.forward
    G = rng.normal(size=run(X, V, b, **opts).shape)
    dX, dV, db = resode.vjp(X, V, b, G, trajectory=traj, **opts)
    eps = 1e-6
    for grad, which in ((dX, 0), (dV, 1), (db, 2)):
        direction = rng.normal(size=grad.shape)

        def value(t, which=which, direction=direction):
            args = [X, V, b]
            args[which] = args[which] + t * direction
            return np.sum(G * run(*args, **opts))

        fd = (value(eps) - value(-eps)) / (2 * eps)
        assert np.sum(grad * direction) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_state_head_costate_is_a_cotangent():
    # loss_and_grad with the state head is the vjp of G = x_{L+1} - Y (w1 = w2 = 0)
    X, V, b, rng = _problem("symmetric")
    Y = rng.normal(size=X.shape)
    lg = resode.loss_and_grad(X, Y, V, b, form="symmetric", input_grad=True)
    G = resode.forward(X, V, b, form="symmetric") - Y
    dX, dV, db = resode.vjp(X, V, b, G, form="symmetric", checkpoint_every=None)
    np.testing.assert_array_equal(dV, lg.dV)
    np.testing.assert_array_equal(db, lg.db)
    np.testing.assert_array_equal(dX, lg.dX)


def test_trajectory_cotangent_on_the_last_state_only_is_the_forward_vjp():
    X, V, b, rng = _problem("outer")
    G = rng.normal(size=X.shape)
    Gt = np.zeros((len(V) + 1, *X.shape))
    Gt[-1] = G
    last = resode.vjp(X, V, b, Gt, trajectory=True, form="outer")
    for a, c in zip(resode.vjp(X, V, b, G, form="outer"), last, strict=True):
        np.testing.assert_array_equal(a, c)
    # a cotangent on x_0 alone passes straight to dX
    Gt[:] = 0
    Gt[0] = G
    dX, dV, db = resode.vjp(X, V, b, Gt, trajectory=True, form="outer")
    np.testing.assert_array_equal(dX, G)
    assert not dV.any() and not db.any()


def test_checkpointing_and_threads_are_bitwise_neutral():
    X, V, b, rng = _problem("inner", d=8, n=3000, G=30)
    G = rng.normal(size=X.shape)
    ref = resode.vjp(X, V, b, G, checkpoint_every=None, threads=1)
    for kw in (dict(checkpoint_every="sqrt", threads=2), dict(checkpoint_every=7, threads=2)):
        for a, c in zip(ref, resode.vjp(X, V, b, G, **kw), strict=True):
            np.testing.assert_array_equal(a, c)


def test_float32():
    X, V, b, rng = _problem("inner")
    f = [a.astype(np.float32) for a in (X, V, b, rng.normal(size=X.shape))]
    out = resode.vjp(*f)
    assert all(a.dtype == np.float32 for a in out)


def test_bad_cotangent():
    X, V, b, _ = _problem("inner")
    with pytest.raises(ValueError, match="cotangent"):
        resode.vjp(X, V, b, np.ones((3, 4)))
    with pytest.raises(ValueError, match="cotangent"):
        resode.vjp(X, V, b, np.ones(X.shape), trajectory=True)
    bad = np.ones(X.shape)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="cotangent"):
        resode.vjp(X, V, b, bad)
    with pytest.raises(TypeError, match="cotangent has dtype float32"):
        resode.vjp(X, V, b, np.ones(X.shape, dtype=np.float32))
