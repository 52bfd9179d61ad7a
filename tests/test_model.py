"""The model object: configuration, initialisation, evaluation, padding, pickling."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import reference
import resode
from resode import ResNetODE, ZeroGradientWarning


def test_initialisations():
    m = ResNetODE(3, 5, init="uniform", init_scale=0.7, seed=1)
    assert m.V.shape == (5, 3, 3) and m.b.shape == (5, 3) and m.W is None
    assert np.abs(m.V).max() <= 0.7 and np.abs(m.V).max() > 0.5
    n = ResNetODE(3, 5, init="normal", init_scale=2.0, seed=1)
    assert 1.5 < n.V.std() < 2.5
    z = ResNetODE(3, 5, init="zeros", seed=1)
    assert not z.V.any() and not z.b.any()
    same = ResNetODE(3, 5, init="uniform", init_scale=0.7, seed=1)
    np.testing.assert_array_equal(m.V, same.V)
    assert ResNetODE(3, 5, dtype="float32").V.dtype == np.float32


@pytest.mark.parametrize(
    ("form", "activation", "stuck"),
    [
        ("symmetric", "tanh", True),
        ("outer", "relu", True),
        ("antisymmetric", "relu", True),
        ("inner", "tanh", False),
        ("outer", "tanh", False),
        ("symmetric", "sigmoid", False),
    ],
)
def test_zero_gradient_warning_matches_the_actual_gradient(form, activation, stuck):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = ResNetODE(3, 4, form=form, activation=activation, init="zeros")
    warned = any(issubclass(w.category, ZeroGradientWarning) for w in caught)
    X = np.random.default_rng(0).normal(size=(10, 3))
    g = m.loss_and_grad(X, X + 1.0)
    assert warned == stuck
    assert (not g.dV.any() and not g.db.any()) == stuck


def test_heads_and_predictions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    soft = ResNetODE(3, 4, head="softmax", n_classes=4, seed=0)
    proba = soft.predict_proba(X)
    assert proba.shape == (20, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(soft.predict(X), proba.argmax(axis=1))
    logi = ResNetODE(3, 4, head="logistic", seed=0)
    p = logi.predict_proba(X)
    assert p.shape == (20, 2)
    np.testing.assert_array_equal(logi.predict(X), (p[:, 1] > 0.5).astype(int))
    lin = ResNetODE(3, 4, head="linear", n_outputs=2, seed=0)
    np.testing.assert_allclose(lin.predict(X), lin.forward(X) @ lin.W.T + lin.mu)
    state = ResNetODE(2, 4, seed=0)
    np.testing.assert_array_equal(state.predict(X), state.forward(X))
    with pytest.raises(AttributeError, match="classifier"):
        state.predict_proba(X)


def test_inputs_are_zero_padded_to_dim():
    m = ResNetODE(4, 3, seed=0, init_scale=0.5)
    X = np.random.default_rng(0).normal(size=(5, 2))
    padded = np.column_stack([X, np.zeros((5, 2))])
    np.testing.assert_array_equal(m.forward(X), m.forward(padded))
    ref = reference.trajectory(padded, m.V, m.b, T=m.T)
    np.testing.assert_allclose(m.trajectory(X), ref, rtol=1e-13)
    with pytest.raises(ValueError, match="dim=4"):
        m.forward(np.zeros((5, 6)))


def test_loss_and_grad_uses_the_configuration():
    m = ResNetODE(3, 4, T=2.0, form="outer", head="linear", n_outputs=2, w2=0.1, w_head=0.2, seed=3)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    got = m.loss_and_grad(X, Y)
    ref = reference.loss_and_grad(
        X, Y, m.V, m.b, T=2.0, form="outer", head="linear", W=m.W, mu=m.mu, w2=0.1, w_head=0.2
    )
    assert got.loss == pytest.approx(ref["loss"], rel=1e-13)
    np.testing.assert_allclose(got.dW, ref["dW"], rtol=1e-12)


def test_bad_configuration():
    with pytest.raises(ValueError, match="n_classes"):
        ResNetODE(3, 4, head="softmax")
    with pytest.raises(ValueError, match="dim"):
        ResNetODE(0, 4)
    with pytest.raises(TypeError, match="n_layers"):
        ResNetODE(3, 2.5)
    with pytest.raises(ValueError, match="gamma"):
        ResNetODE(3, 4, gamma=0.1)
    with pytest.raises(ValueError, match="w1"):
        ResNetODE(3, 4, head="softmax", n_classes=2, w1=0.1)
    with pytest.raises(ValueError, match="init"):
        ResNetODE(3, 4, init="xavier")
    with pytest.raises(ValueError, match="unknown parameter"):
        ResNetODE(3, 4).set_parameters(W=np.zeros((2, 3)))


def test_models_pickle_and_copy():
    m = ResNetODE(3, 4, head="softmax", n_classes=3, seed=0)
    m2 = pickle.loads(pickle.dumps(m))
    X = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_array_equal(m.predict_proba(X), m2.predict_proba(X))
    c = m.copy()
    c.V[:] = 0
    assert m.V.any()


def test_flat_parameters_round_trip():
    m = ResNetODE(3, 4, head="softmax", n_classes=3, seed=0)
    theta = m.get_flat()
    assert theta.size == m.n_parameters == 4 * 9 + 4 * 3 + 3 * 3 + 3
    m2 = ResNetODE(3, 4, head="softmax", n_classes=3, init="zeros").set_flat(theta)
    for k, a in m.parameters().items():
        np.testing.assert_array_equal(a, m2.parameters()[k])


def test_repr_names_the_configuration():
    assert "softmax" in repr(ResNetODE(3, 4, head="softmax", n_classes=2))
    assert isinstance(resode.ResNetODE(2, 1).n_parameters, int)
