"""Overflow raises resode.NonFiniteError with the first layer and affected samples."""

from __future__ import annotations

import numpy as np
import pytest

import reference
import resode


def _exploding(L=6, growth=1e60):
    """identity activation, V = growth * I: x grows by (1 + h growth) per layer."""
    d = 2
    V = np.broadcast_to(growth * np.eye(d), (L, d, d)).copy()
    b = np.zeros((L, d))
    X = np.array([[1.0, 0.0], [0.0, 0.0], [1e-3, 2.0], [0.0, 0.0]])  # zero samples stay finite
    return X, V, b


def _first_overflow_layer(X, V, b):
    with np.errstate(over="ignore", invalid="ignore"):
        traj = reference.trajectory(X, V, b, activation="identity")
    bad = ~np.isfinite(traj).all(axis=(1, 2))
    return int(np.argmax(bad)) - 1  # trajectory[k + 1] is the state after layer k


@pytest.mark.parametrize("call", ["forward", "trajectory", "loss", "loss_and_grad"])
def test_forward_overflow(call):
    X, V, b = _exploding()
    args = (X, X, V, b) if call.startswith("loss") else (X, V, b)
    with pytest.raises(resode.NonFiniteError) as info:
        getattr(resode, call)(*args, activation="identity")
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.layer == _first_overflow_layer(X, V, b) and err.layer >= 1
    assert err.samples == 2
    assert err.stage == "forward"
    assert f"layer {err.layer}" in str(err)


def test_overflow_in_several_blocks_reports_the_first_layer_and_all_samples():
    X, V, b = _exploding()
    nb = resode._core.block_size(2, np.dtype(np.float64))
    X = np.tile(X, (nb, 1))  # 4 * nb samples: several blocks, half of them growing
    with pytest.raises(resode.NonFiniteError) as info:
        resode.loss_and_grad(X, X, V, b, activation="identity", threads=2)
    assert info.value.samples == 2 * nb
    assert info.value.layer == _first_overflow_layer(X[:4], V, b)


def test_overflow_in_the_loss():
    X = np.array([[1e200, 0.0]])
    V, b = np.zeros((1, 2, 2)), np.zeros((1, 2))
    with pytest.raises(resode.NonFiniteError) as info:
        resode.loss(X, np.zeros((1, 2)), V, b, activation="identity")
    assert info.value.stage == "loss"


def test_huge_logits_stay_finite():
    """Softmax and logistic losses use log-sum-exp: huge logits give finite values."""
    X = np.array([[1.0, -1.0], [2.0, 0.5]])
    V, b = np.zeros((1, 2, 2)), np.zeros((1, 2))
    W = np.array([[1e3, 0.0], [-1e3, 0.0], [0.0, 1e3]])
    g = resode.loss_and_grad(X, np.array([1, 2]), V, b, head="softmax", W=W, mu=np.zeros(3))
    ref = reference.loss_and_grad(X, np.array([1, 2]), V, b, head="softmax", W=W, mu=np.zeros(3))
    assert np.isfinite(g.loss) and g.loss == pytest.approx(ref["loss"], rel=1e-14)
    g = resode.loss_and_grad(X, np.array([0, 1]), V, b, head="logistic", W=W[:1], mu=np.zeros(1))
    # softplus(1000) - 0 and softplus(2000) - 2000
    assert np.isfinite(g.loss) and g.loss == pytest.approx(1e3, rel=1e-14)


def test_error_pickles_with_its_attributes():
    import pickle

    err = pickle.loads(pickle.dumps(resode.NonFiniteError("m", 3, 7, "forward")))
    assert (err.layer, err.samples, err.stage, str(err)) == (3, 7, "forward", "m")
