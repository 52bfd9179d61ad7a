"""Checkpointed gradient sweeps give bitwise the same results.

Memory (measured standalone, fresh process, threads=1, N=20000, d=2, L=2500): peak RSS
rise 156.6 MiB storing every state, 5.1 MiB with checkpoint_every="sqrt"."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from conftest import FORMS, HEADS, make_problem


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_equal_to_storing_every_state(form, head, dtype):
    nb = resode._core.block_size(3, np.dtype(dtype))
    kw = make_problem(form, "softplus", head, N=2 * nb + 7, d=3, L=10, dtype=dtype)
    ref = resode.loss_and_grad(**kw, input_grad=True)
    for every in (1, 3, 4, 9, 10, 50, "sqrt"):
        for threads in (1, 2):
            got = resode.loss_and_grad(
                **kw, input_grad=True, checkpoint_every=every, threads=threads
            )
            assert got.loss == ref.loss
            for name in ("dV", "db", "dW", "dmu", "dX"):
                a, b = getattr(got, name), getattr(ref, name)
                assert (a is None and b is None) or a.tobytes() == b.tobytes(), (every, name)


def test_overflow_and_bad_values_with_checkpoints():
    X = np.array([[1.0, 0.0], [0.0, 0.0]])
    V = np.broadcast_to(1e60 * np.eye(2), (9, 2, 2)).copy()
    with pytest.raises(resode.NonFiniteError) as info:
        resode.loss_and_grad(X, X, V, np.zeros((9, 2)), activation="identity", checkpoint_every=3)
    assert info.value.samples == 1
    kw = make_problem("inner", "tanh", "state", N=4)
    for bad, exc in ((0, ValueError), (-2, ValueError), ("auto", ValueError), (2.5, TypeError)):
        with pytest.raises(exc, match="checkpoint_every"):
            resode.loss_and_grad(**kw, checkpoint_every=bad)


SCHEMES_OF = {
    "inner": ("heun", "rk4"),
    "outer": ("euler", "rk4"),
    "symmetric": ("euler", "heun"),
    "antisymmetric": ("rk4",),
    "resnet_d": ("euler", "rk4"),
    "hamiltonian": ("euler", "rk4", "symplectic_euler", "verlet"),
    "hamiltonian_hr": ("heun", "symplectic_euler", "verlet"),
}


@pytest.mark.parametrize(
    "form,scheme", [(f, s) for f, schemes in SCHEMES_OF.items() for s in schemes]
)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_scheme_is_bitwise_neutral_to_checkpointing(form, scheme, activation, dtype):
    """The steps' caches sit at aligned offsets, so a value is computed alike cached or
    not: checkpointing, loss against loss_and_grad, partial blocks (N not a multiple of 16)."""
    from test_schemes import make_ext

    nb = resode._core.block_size(4, np.dtype(dtype))
    for n in (29, nb + 13):
        kw = make_ext(form, activation, "softmax", N=n, d=4, L=5, scheme=scheme, dtype=dtype)
        kw["project"] = "relu" if form == "symmetric" else None
        ref = resode.loss_and_grad(**kw, input_grad=True)
        assert resode.loss(**kw) == ref.loss
        got = resode.loss_and_grad(**kw, input_grad=True, checkpoint_every=2, threads=2)
        assert got.loss == ref.loss
        for name in ("dV", "db", "dW", "dmu", "dX"):
            assert getattr(got, name).tobytes() == getattr(ref, name).tobytes(), (n, name)
