"""Property-based tests (hypothesis): random shapes, dtypes, layouts, forms, activations,
heads and extreme-but-finite values. Invariant: a documented exception, or finite results
that match the NumPy reference."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import resode
from conftest import ACTIVATIONS, FORMS, HEADS, rel_err

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    N = draw(st.integers(0, 40))
    d = draw(st.integers(1, 5))
    L = draw(st.integers(1, 6))
    form = draw(st.sampled_from(FORMS))
    activation = draw(st.sampled_from(ACTIVATIONS))
    head = draw(st.sampled_from(HEADS))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    rng = np.random.default_rng(seed)
    kw = {
        "X": scale * rng.normal(size=(N, d)),
        "V": scale * rng.normal(size=(L, d, d)) / np.sqrt(d),
        "b": scale * rng.normal(size=(L, d)),
        "T": draw(st.sampled_from([0.5, 1.0, 2.0])),
        "form": form,
        "activation": activation,
        "head": head,
        "w2": draw(st.sampled_from([0.0, 0.1])),
        "gamma": draw(st.sampled_from([0.0, 0.5])) if form == "antisymmetric" else 0.0,
        "sample_weight": rng.uniform(0, 2, N) if draw(st.booleans()) else None,
    }
    if head == "state":
        kw["Y"] = rng.normal(size=(N, d))
        kw["w1"] = draw(st.sampled_from([0.0, 0.3]))
    else:
        m = (
            draw(st.integers(2, 4))
            if head == "softmax"
            else 1
            if head == "logistic"
            else draw(st.integers(1, 3))
        )
        kw["W"] = rng.normal(size=(m, d))
        kw["mu"] = rng.normal(size=m)
        kw["w_head"] = draw(st.sampled_from([0.0, 0.2]))
        kw["Y"] = (
            rng.normal(size=(N, m))
            if head == "linear"
            else rng.integers(0, m if head == "softmax" else 2, size=N)
        )
    for k in ("X", "V", "b", "W", "mu", "sample_weight"):
        if kw.get(k) is not None:
            kw[k] = kw[k].astype(dtype)
    if head in ("state", "linear"):
        kw["Y"] = kw["Y"].astype(dtype)
    # memory layout: C order, Fortran order, or a strided view of a bigger array
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "F":
        kw["X"] = np.asfortranarray(kw["X"])
        kw["V"] = np.asfortranarray(kw["V"])
    elif layout == "strided":
        kw["X"] = np.repeat(kw["X"], 2, axis=0)[::2]
        kw["V"] = np.repeat(kw["V"], 2, axis=2)[:, :, ::2]
    return kw


@SETTINGS
@given(problems())
def test_matches_the_reference_or_raises_documented_errors(kw):
    dtype = kw["X"].dtype
    try:
        got = resode.loss_and_grad(**kw, input_grad=True)
    except resode.NonFiniteError:
        return  # documented for overflow; scale <= 3 with L <= 6 rarely gets there
    ref = reference.loss_and_grad(**kw)
    tol = 1e-10 if dtype == np.float64 else 2e-3
    assert np.isfinite(got.loss)
    assert rel_err(got.loss, ref["loss"]) < tol
    names = [n for n in ("dV", "db", "dW", "dmu", "dX") if ref[n] is not None]
    # Each gradient is checked norm-wise against itself, or, when it is tiny next to the
    # others, against the whole gradient: an entry that is a sum of terms cancelling to
    # 1e-12 (found by hypothesis: symmetric form, identity activation, db) carries the
    # rounding error of those terms, whose size is that of the other gradients.
    whole = np.sqrt(sum(np.linalg.norm(ref[n]) ** 2 for n in names))
    for name in ("dV", "db", "dW", "dmu", "dX"):
        a = getattr(got, name)
        if ref[name] is None:
            assert a is None
            continue
        assert a.dtype == dtype and np.isfinite(a).all()
        err = np.linalg.norm(np.asarray(a, dtype=np.float64) - ref[name])
        assert err <= tol * max(np.linalg.norm(ref[name]), 1e-3 * whole) or err == 0, name
    out = resode.forward(
        kw["X"],
        kw["V"],
        kw["b"],
        T=kw["T"],
        form=kw["form"],
        activation=kw["activation"],
        gamma=kw["gamma"],
    )
    assert out.shape == kw["X"].shape and out.dtype == dtype


@SETTINGS
@given(problems(), st.sampled_from(["tiny", "huge", "-huge", "sqrt_max"]))
def test_extreme_finite_values_never_crash(kw, which):
    info = np.finfo(kw["X"].dtype)
    value = {
        "tiny": info.tiny,
        "huge": info.max / 4,
        "-huge": -info.max / 4,
        "sqrt_max": np.sqrt(info.max),
    }[which]
    kw = {**kw, "X": np.full_like(kw["X"], value)}
    try:
        got = resode.loss_and_grad(**kw)
    except (resode.NonFiniteError, ValueError, TypeError):
        return
    assert np.isfinite(got.loss) and np.isfinite(got.dV).all()


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(0, 3))
def test_gradients_match_finite_differences(kw, which):
    if (
        kw["X"].dtype != np.float64
        or kw["activation"] in ("relu", "leaky_relu")
        or len(kw["X"]) == 0
    ):
        return
    key = ("V", "b", "X", "W")[which]
    if kw.get(key) is None:
        return
    got = resode.loss_and_grad(**kw, input_grad=True)
    grad = {"V": got.dV, "b": got.db, "X": got.dX, "W": got.dW}[key]
    direction = np.random.default_rng(1).normal(size=kw[key].shape)
    eps = 1e-6
    plus = resode.loss(**{**kw, key: kw[key] + eps * direction})
    minus = resode.loss(**{**kw, key: kw[key] - eps * direction})
    fd = (plus - minus) / (2 * eps)
    exact = float(np.sum(grad * direction))
    assert abs(exact - fd) <= 1e-6 * max(1.0, abs(fd))
