"""Shared fixtures: small random problems for every form and head."""

from __future__ import annotations

import threading

import numpy as np
import pytest

FORMS = ("inner", "outer", "symmetric", "antisymmetric")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "leaky_relu", "identity")
HEADS = ("state", "linear", "softmax", "logistic")


def make_problem(
    form="inner",
    activation="tanh",
    head="state",
    *,
    N=5,
    d=3,
    L=4,
    m=None,
    dtype=np.float64,
    seed=0,
    scale=0.5,
    w1=None,
    w2=0.05,
    w_head=0.1,
    weighted=True,
):
    """Arguments of loss_and_grad for a random problem (a dict of keyword arguments)."""
    rng = np.random.default_rng(seed)
    kw = {
        "X": rng.normal(size=(N, d)),
        "V": scale * rng.normal(size=(L, d, d)),
        "b": scale * rng.normal(size=(L, d)),
        "T": 1.3,
        "form": form,
        "activation": activation,
        "head": head,
        "w2": w2,
        "gamma": 0.2 if form == "antisymmetric" else 0.0,
        "sample_weight": rng.uniform(0.5, 2.0, size=N) if weighted else None,
    }
    if head == "state":
        kw["Y"] = rng.normal(size=(N, d))
        kw["w1"] = 0.3 if w1 is None else w1
    else:
        m = m or {"linear": 2, "softmax": 3, "logistic": 1}[head]
        kw["W"] = rng.normal(size=(m, d))
        kw["mu"] = rng.normal(size=m)
        kw["w_head"] = w_head
        if head == "linear":
            kw["Y"] = rng.normal(size=(N, m))
        else:
            kw["Y"] = rng.integers(0, m if head == "softmax" else 2, size=N)
    for key in ("X", "V", "b", "W", "mu", "sample_weight"):
        if kw.get(key) is not None:
            kw[key] = kw[key].astype(dtype)
    if head in ("state", "linear"):
        kw["Y"] = kw["Y"].astype(dtype)
    return kw


def fd_gradient(kw, key, eps=1e-6, loss=None):
    """Central finite differences of loss(**kw) (default resode.loss) with respect to kw[key]."""
    import resode

    loss = resode.loss if loss is None else loss
    base = kw[key]
    grad = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        for sign in (1, -1):
            pert = base.copy()
            pert[idx] += sign * eps
            grad[idx] += sign * loss(**{**kw, key: pert})
        grad[idx] /= 2 * eps
    return grad


def rel_err(a, ref):
    """Norm-wise relative error ||a - ref|| / ||ref|| (absolute when ref is 0)."""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    scale = np.linalg.norm(ref)
    return np.linalg.norm(a - ref) / (scale if scale > 0 else 1.0)


@pytest.fixture
def problem():
    return make_problem


def ticks_during(fn) -> int:
    """How many times a spinning Python thread ran its loop while fn() ran: close
    to none when fn holds the GIL throughout, thousands when it releases it."""
    stop = threading.Event()
    ticks = [0]

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        before = ticks[0]
        fn()
        return ticks[0] - before
    finally:
        stop.set()
        spinner.join()
