"""Gradients against central finite differences of the loss, and a Taylor test."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import resode
from conftest import ACTIVATIONS, FORMS, HEADS, fd_gradient, make_problem, rel_err

PARAMS = {"dV": "V", "db": "b", "dW": "W", "dmu": "mu", "dX": "X"}


@pytest.mark.parametrize(
    ("form", "activation", "head"), list(itertools.product(FORMS, ACTIVATIONS, HEADS))
)
def test_gradients_match_finite_differences(form, activation, head):
    # Random points lie away from the kinks of relu / leaky_relu (checked below).
    kw = make_problem(form, activation, head, N=4, d=3, L=3, seed=1)
    if activation in ("relu", "leaky_relu"):
        pre = resode.trajectory(kw["X"], kw["V"], kw["b"], T=kw["T"], form=form, gamma=kw["gamma"])
        assert np.abs(pre).min() > 1e-4
    got = resode.loss_and_grad(**kw, input_grad=True)
    for name, key in PARAMS.items():
        if kw.get(key) is None:
            continue
        fd = fd_gradient(kw, key)
        assert rel_err(getattr(got, name), fd) < 1e-6, name


@pytest.mark.parametrize(("form", "head"), list(itertools.product(FORMS, HEADS)))
def test_taylor_remainder_is_second_order(form, head):
    """|J(theta + e v) - J(theta) - e <g, v>| falls like e^2 along a random direction."""
    kw = make_problem(form, "tanh", head, N=5, d=3, L=4, seed=2)
    got = resode.loss_and_grad(**kw, input_grad=True)
    rng = np.random.default_rng(3)
    keys = [k for k in PARAMS.values() if kw.get(k) is not None]
    direction = {k: rng.normal(size=kw[k].shape) for k in keys}
    slope = sum(np.sum(getattr(got, g) * direction[k]) for g, k in PARAMS.items() if k in keys)

    def remainder(eps):
        moved = {**kw, **{k: kw[k] + eps * direction[k] for k in keys}}
        return abs(resode.loss(**moved) - got.loss - eps * slope)

    eps = [1e-3 / 2**i for i in range(4)]
    rem = [remainder(e) for e in eps]
    ratios = [rem[i] / rem[i + 1] for i in range(3)]
    assert all(3.5 < r < 4.5 for r in ratios), ratios
