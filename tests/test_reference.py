"""resode against the independent NumPy implementation in reference.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference
import resode
from conftest import ACTIVATIONS, FORMS, HEADS, make_problem, rel_err

GRADS = ("dV", "db", "dW", "dmu", "dX")
CASES = list(list(itertools.product(FORMS, ACTIVATIONS, HEADS)))


def _compare(kw, tol):
    got = resode.loss_and_grad(**kw, input_grad=True)
    ref = reference.loss_and_grad(**kw)
    assert rel_err(got.loss, ref["loss"]) < tol
    for name in GRADS:
        if ref[name] is None:
            assert getattr(got, name) is None
        else:
            assert getattr(got, name).dtype == kw["X"].dtype
            assert rel_err(getattr(got, name), ref[name]) < tol, name
    return got


@pytest.mark.parametrize(("form", "activation", "head"), CASES)
def test_loss_and_grad_float64(form, activation, head):
    _compare(make_problem(form, activation, head, N=7, d=3, L=5), 1e-12)


@pytest.mark.parametrize(("form", "activation", "head"), CASES)
def test_loss_and_grad_float32(form, activation, head):
    _compare(make_problem(form, activation, head, N=7, d=3, L=5, dtype=np.float32), 1e-5)


@pytest.mark.parametrize(("form", "activation"), list(itertools.product(FORMS, ACTIVATIONS)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_and_trajectory(form, activation, dtype):
    kw = make_problem(form, activation, N=11, d=4, L=6, dtype=dtype)
    net = {k: kw[k] for k in ("T", "form", "activation", "gamma")}
    ref = reference.trajectory(kw["X"], kw["V"], kw["b"], **net)
    traj = resode.trajectory(kw["X"], kw["V"], kw["b"], **net)
    out = resode.forward(kw["X"], kw["V"], kw["b"], **net)
    assert traj.shape == ref.shape and traj.dtype == dtype and out.dtype == dtype
    assert rel_err(traj, ref) < (1e-13 if dtype == np.float64 else 1e-6)
    np.testing.assert_array_equal(traj[0], kw["X"])
    np.testing.assert_array_equal(traj[-1], out)


@pytest.mark.parametrize("form", FORMS)
def test_many_samples_across_blocks(form):
    """Several blocks, the last one partial, in both dtypes."""
    for dtype in (np.float64, np.float32):
        nb = resode._core.block_size(3, np.dtype(dtype))
        kw = make_problem(form, "tanh", "state", N=2 * nb + 37, d=3, L=3, dtype=dtype)
        _compare(kw, 1e-12 if dtype == np.float64 else 2e-5)


def test_large_depth_small_d():
    kw = make_problem("inner", "tanh", "state", N=9, d=2, L=2000, scale=1.0)
    _compare(kw, 1e-11)


@pytest.mark.parametrize("head", HEADS)
def test_d1_L1_N1(head):
    for N, d, L in [(1, 1, 1), (1, 3, 1), (4, 1, 3)]:
        _compare(make_problem("outer", "softplus", head, N=N, d=d, L=L), 1e-12)


def test_torch_autodiff_oracle():
    """An independent autodiff of the same sweep, when PyTorch is installed."""
    torch = pytest.importorskip("torch")
    kw = make_problem("symmetric", "tanh", "softmax", N=6, d=3, L=5)
    t = {k: torch.tensor(kw[k], requires_grad=True) for k in ("X", "V", "b", "W", "mu")}
    h = kw["T"] / 5
    x = t["X"]
    for k in range(5):
        x = x - h * torch.tanh(x @ t["V"][k].T + t["b"][k]) @ t["V"][k]
    z = x @ t["W"].T + t["mu"]
    sw = torch.tensor(kw["sample_weight"])
    y = torch.tensor(kw["Y"])
    J = torch.sum(sw * torch.nn.functional.cross_entropy(z, y, reduction="none"))
    J = J + 0.5 * kw["w2"] * h * (t["V"].square().sum() + t["b"].square().sum())
    J = J + 0.5 * kw["w_head"] * (t["W"].square().sum() + t["mu"].square().sum())
    J.backward()
    got = resode.loss_and_grad(**kw, input_grad=True)
    assert rel_err(got.loss, J.item()) < 1e-12
    for name, key in [("dV", "V"), ("db", "b"), ("dW", "W"), ("dmu", "mu"), ("dX", "X")]:
        assert rel_err(getattr(got, name), t[key].grad.numpy()) < 1e-12, name
