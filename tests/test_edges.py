"""Edge sizes and identities between the entry points."""

from __future__ import annotations

import numpy as np
import pytest

import reference
import resode
from conftest import FORMS, HEADS, make_problem, rel_err


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_samples_gives_the_regularisers_alone(head, dtype):
    kw = make_problem("inner", "tanh", head, N=0, d=3, L=4, dtype=dtype)
    L, d = kw["V"].shape[:2]
    h = kw["T"] / L
    assert resode.forward(kw["X"], kw["V"], kw["b"]).shape == (0, d)
    assert resode.trajectory(kw["X"], kw["V"], kw["b"]).shape == (L + 1, 0, d)
    g = resode.loss_and_grad(**kw, input_grad=True)
    expected = (
        0.5
        * kw["w2"]
        * h
        * (np.sum(kw["V"].astype(float) ** 2) + np.sum(kw["b"].astype(float) ** 2))
    )
    if head != "state":
        expected += (
            0.5
            * kw["w_head"]
            * (np.sum(kw["W"].astype(float) ** 2) + np.sum(kw["mu"].astype(float) ** 2))
        )
        np.testing.assert_allclose(g.dW, kw["w_head"] * kw["W"], rtol=1e-6)
        np.testing.assert_allclose(g.dmu, kw["w_head"] * kw["mu"], rtol=1e-6)
    assert g.loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(g.dV, kw["w2"] * h * kw["V"], rtol=1e-6)
    np.testing.assert_allclose(g.db, kw["w2"] * h * kw["b"], rtol=1e-6)
    assert g.dX.shape == (0, d) and g.dX.dtype == dtype


def test_zero_weights_give_the_terminal_cost_alone():
    kw = make_problem("outer", "tanh", "state", N=6, w1=0.0, w2=0.0, weighted=False)
    x = resode.forward(kw["X"], kw["V"], kw["b"], T=kw["T"], form="outer")
    assert resode.loss(**kw) == pytest.approx(0.5 * np.sum((x - kw["Y"]) ** 2), rel=1e-14)
    g = resode.loss_and_grad(**kw)
    ref = reference.loss_and_grad(**kw)
    assert rel_err(g.dV, ref["dV"]) < 1e-12


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("head", HEADS)
def test_loss_equals_loss_and_grad(form, head):
    kw = make_problem(form, "softplus", head, N=300, d=4, L=5)
    assert resode.loss(**kw) == resode.loss_and_grad(**kw).loss


@pytest.mark.parametrize("head", HEADS)
def test_integer_sample_weight_equals_repeated_samples(head):
    kw = make_problem("symmetric", "tanh", head, N=8, d=3, L=4, weighted=False)
    counts = np.array([0, 1, 2, 3, 1, 2, 0, 1])
    repeated = {
        **kw,
        "X": np.repeat(kw["X"], counts, axis=0),
        "Y": np.repeat(kw["Y"], counts, axis=0),
    }
    a = resode.loss_and_grad(**{**kw, "sample_weight": counts})
    b = resode.loss_and_grad(**repeated)
    assert a.loss == pytest.approx(b.loss, rel=1e-13)
    for name in ("dV", "db", "dW", "dmu"):
        if getattr(a, name) is not None:
            assert rel_err(getattr(a, name), getattr(b, name)) < 1e-13


def test_input_grad_is_the_costate_p1():
    kw = make_problem("inner", "tanh", "state", N=4)
    assert resode.loss_and_grad(**kw).dX is None
    assert resode.loss_and_grad(**kw, input_grad=True).dX.shape == kw["X"].shape


def test_conversions_of_bool_int_lists_and_layouts():
    kw = make_problem("inner", "tanh", "state", N=5, d=3, L=2)
    ref = resode.loss_and_grad(**kw)
    # Fortran order, strided views and lists give the same numbers
    other = {
        **kw,
        "X": np.asfortranarray(kw["X"]),
        "V": kw["V"].tolist(),
        "Y": np.repeat(kw["Y"], 2, axis=0)[::2],
    }
    got = resode.loss_and_grad(**other)
    assert got.loss == ref.loss
    np.testing.assert_array_equal(got.dV, ref.dV)
    # integer inputs compute in float64
    Xi = np.arange(6).reshape(2, 3)
    out = resode.forward(Xi, np.zeros((2, 3, 3), dtype=np.int32), np.zeros((2, 3), dtype=bool))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, Xi)  # V = b = 0: inner tanh field is zero
    # float32 X keeps float32 results; integer parameters are converted
    out32 = resode.forward(
        Xi.astype(np.float32), np.zeros((2, 3, 3), dtype=np.int64), [[0, 0, 0]] * 2
    )
    assert out32.dtype == np.float32


def test_labels_of_any_integer_dtype():
    kw = make_problem("inner", "tanh", "softmax", N=6)
    ref = resode.loss(**kw)
    for dtype in (np.int8, np.uint16, np.int32, np.uint64, np.float64):
        assert resode.loss(**{**kw, "Y": kw["Y"].astype(dtype)}) == ref
    logistic = make_problem("inner", "tanh", "logistic", N=6)
    assert resode.loss(**{**logistic, "Y": logistic["Y"].astype(bool)}) == resode.loss(**logistic)


def test_linear_head_accepts_a_target_vector_when_m_is_1():
    kw = make_problem("inner", "tanh", "linear", N=6, m=1)
    assert resode.loss(**{**kw, "Y": kw["Y"][:, 0]}) == resode.loss(**kw)


def test_result_is_an_independent_array():
    kw = make_problem("inner", "tanh", "state", N=4)
    X = kw["X"].copy()
    out = resode.forward(kw["X"], kw["V"], kw["b"])
    out[:] = 0
    np.testing.assert_array_equal(kw["X"], X)


def test_build_info():
    info = resode.build_info()
    assert info["version"] == resode.__version__
    assert isinstance(info["openmp"], bool) and info["threads"] >= 1
    assert "SSE" in info["simd"] or info["simd"]
    import importlib.metadata

    assert importlib.metadata.version("resode") == resode.__version__


def test_big_endian_and_unpickled_dtypes_are_accepted():
    import pickle

    kw = make_problem("inner", "tanh", "state", N=5)
    ref = resode.loss(**kw)
    swapped = {k: kw[k].astype(kw[k].dtype.newbyteorder(">")) for k in ("X", "Y", "V", "b")}
    assert resode.loss(**{**kw, **swapped}) == ref
    dtype = pickle.loads(pickle.dumps(np.dtype(np.float64)))  # equal, not identical
    assert resode.loss(**{**kw, "X": kw["X"].astype(dtype)}) == ref


def test_float32_accumulation_over_a_million_samples():
    """Gradients are summed per block (<= 2048 samples) in float32 and over blocks in
    double, so the error does not grow with N: measured ~1e-7, bound 1e-5."""
    rng = np.random.default_rng(0)
    N = 1_000_000
    X, Y = rng.normal(size=(N, 2)).astype(np.float32), rng.normal(size=(N, 2)).astype(np.float32)
    V = (0.5 * rng.normal(size=(10, 2, 2))).astype(np.float32)
    b = (0.1 * rng.normal(size=(10, 2))).astype(np.float32)
    g32 = resode.loss_and_grad(X, Y, V, b, w1=0.1)
    g64 = resode.loss_and_grad(*(a.astype(np.float64) for a in (X, Y, V, b)), w1=0.1)
    assert rel_err(g32.loss, g64.loss) < 1e-5
    assert rel_err(g32.dV, g64.dV) < 1e-5
    assert rel_err(g32.db, g64.db) < 1e-5
