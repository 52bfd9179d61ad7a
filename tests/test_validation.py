"""Every bad input raises TypeError or ValueError naming the argument (README, Guarantees)."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from conftest import make_problem


def _state(**over):
    kw = make_problem("inner", "tanh", "state", N=4, d=3, L=2)
    kw.update(over)
    return kw


def _softmax(**over):
    kw = make_problem("inner", "tanh", "softmax", N=4, d=3, L=2, m=3)
    kw.update(over)
    return kw


X = np.zeros((4, 3))
BAD = [
    # (exception, words the message must contain, keyword overrides, problem)
    (TypeError, "X", {"X": X.astype(np.float16)}, _state),
    (TypeError, "X", {"X": X.astype(np.complex128)}, _state),
    (TypeError, "X", {"X": np.array([["a", "b", "c"]] * 4)}, _state),
    (TypeError, "X", {"X": np.empty((4, 3), dtype=object)}, _state),
    (TypeError, "X", {"X": [[1, 2, 3], [1, 2]]}, _state),
    (ValueError, "X", {"X": np.zeros(3)}, _state),
    (ValueError, "X", {"X": np.zeros((4, 0))}, _state),
    (ValueError, "X", {"X": np.array([[np.nan, 0, 0]] * 4)}, _state),
    (ValueError, "X", {"X": np.array([[np.inf, 0, 0]] * 4)}, _state),
    (TypeError, "V", {"V": np.zeros((2, 3, 3), dtype=np.float32)}, _state),
    (TypeError, "float32", {"V": np.zeros((2, 3, 3), dtype=np.float32)}, _state),
    (ValueError, "V", {"V": np.zeros((2, 3, 4))}, _state),
    (ValueError, "V", {"V": np.zeros((0, 3, 3)), "b": np.zeros((0, 3))}, _state),
    (ValueError, "V", {"V": np.full((2, 3, 3), np.nan)}, _state),
    (ValueError, "b", {"b": np.zeros((3, 3))}, _state),
    (TypeError, "b", {"b": np.zeros((2, 3), dtype=np.float32)}, _state),
    (ValueError, "b", {"b": np.full((2, 3), np.inf)}, _state),
    (ValueError, "Y", {"Y": np.zeros((4, 2))}, _state),
    (ValueError, "Y", {"Y": np.full((4, 3), np.nan)}, _state),
    (TypeError, "Y", {"Y": np.zeros((4, 3), dtype=np.float32)}, _state),
    (ValueError, "T", {"T": 0.0}, _state),
    (ValueError, "T", {"T": -1.0}, _state),
    (ValueError, "T", {"T": np.inf}, _state),
    (TypeError, "T", {"T": "1"}, _state),
    (ValueError, "form", {"form": "diagonal"}, _state),
    (TypeError, "form", {"form": 3}, _state),
    (ValueError, "activation", {"activation": "gelu"}, _state),
    (ValueError, "head", {"head": "hinge"}, _state),
    (ValueError, "gamma", {"gamma": 0.5}, _state),
    (ValueError, "gamma", {"form": "antisymmetric", "gamma": -1.0}, _state),
    (ValueError, "w1", {"w1": -0.1}, _state),
    (ValueError, "w1", {"w1": np.nan}, _state),
    (ValueError, "w2", {"w2": -1.0}, _state),
    (ValueError, "w_head", {"w_head": np.inf}, _state),
    (ValueError, "w1", {"w1": 0.1}, _softmax),
    (ValueError, "W", {"W": np.zeros((1, 3)), "mu": np.zeros(1)}, _state),
    (ValueError, "mu", {"mu": np.zeros(3)}, _state),
    (ValueError, "W", {"W": None}, _softmax),
    (ValueError, "mu", {"mu": None}, _softmax),
    (ValueError, "W", {"W": np.zeros((3, 2))}, _softmax),
    (ValueError, "W", {"W": np.zeros((1, 3)), "mu": np.zeros(1), "Y": np.zeros(4, int)}, _softmax),
    (ValueError, "mu", {"mu": np.zeros(2)}, _softmax),
    (ValueError, "W", {"W": np.full((3, 3), np.nan)}, _softmax),
    (ValueError, "Y", {"Y": np.array([0, 1, 3, 0])}, _softmax),
    (ValueError, "Y", {"Y": np.array([0, 1, -1, 0])}, _softmax),
    (ValueError, "Y", {"Y": np.array([0, 1, 0.5, 0])}, _softmax),
    (ValueError, "Y", {"Y": np.array([0, 1, 2])}, _softmax),
    (TypeError, "Y", {"Y": np.array(["a"] * 4)}, _softmax),
    (ValueError, "sample_weight", {"sample_weight": -np.ones(4)}, _state),
    (ValueError, "sample_weight", {"sample_weight": np.ones(5)}, _state),
    (ValueError, "sample_weight", {"sample_weight": np.full(4, np.nan)}, _state),
    (ValueError, "threads", {"threads": 0}, _state),
    (TypeError, "threads", {"threads": 1.5}, _state),
    (TypeError, "threads", {"threads": True}, _state),
    (TypeError, "input_grad", {"input_grad": "yes"}, _state),
]


@pytest.mark.parametrize(("exc", "word", "over", "make"), BAD)
def test_bad_input_raises_naming_the_argument(exc, word, over, make):
    kw = make(**over)
    with pytest.raises(exc, match=word):
        resode.loss_and_grad(**kw)


def test_logistic_labels_must_be_binary():
    kw = make_problem("inner", "tanh", "logistic", N=4)
    with pytest.raises(ValueError, match="Y"):
        resode.loss(**{**kw, "Y": np.array([0, 1, 2, 1])})
    with pytest.raises(ValueError, match="W"):
        resode.loss(**{**kw, "W": np.zeros((2, 3)), "mu": np.zeros(2)})


@pytest.mark.parametrize("fn", [resode.forward, resode.trajectory])
def test_forward_validation(fn):
    V, b = np.zeros((2, 3, 3)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="V"):
        fn(np.zeros((4, 2)), V, b)
    with pytest.raises(TypeError, match="b"):
        fn(np.zeros((4, 3)), V, b.astype(np.float32))
    with pytest.raises(ValueError, match="threads"):
        fn(np.zeros((4, 3)), V, b, threads=-2)
    with pytest.raises(TypeError):
        fn(np.zeros((4, 3)), V, b, 1.0)  # options are keyword-only


def test_private_core_checks_its_arrays_too():
    """A direct caller of _core gets an exception, not a crash."""
    core = resode._core
    X, V, b = np.zeros((4, 3)), np.zeros((2, 3, 3)), np.zeros((2, 3))
    opt = core.NetOptions(1.0, "inner", "tanh")
    with pytest.raises(TypeError, match="V"):
        core.forward(X, V.astype(np.float32), b, opt, None, False)
    with pytest.raises(ValueError, match="b"):
        core.forward(X, V, np.zeros((3, 3)), opt, None, False)
    with pytest.raises(ValueError, match="form"):
        core.forward(X, V, b, core.NetOptions(1.0, "nope", "tanh"), None, False)
    with pytest.raises(ValueError, match="scheme"):
        core.forward(X, V, b, core.NetOptions(1.0, "inner", "tanh", "verlet"), None, False)
    with pytest.raises(ValueError, match="even"):
        core.forward(X, V, b, core.NetOptions(1.0, "hamiltonian", "tanh"), None, False)
    with pytest.raises(ValueError, match="n_layers"):
        core.forward(X, V, b, core.NetOptions(1.0, "inner", "tanh", n_layers=1), None, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        core.forward(np.asfortranarray(np.zeros((4, 3))), V, b, opt, None, False)
    W, mu = np.zeros((3, 3)), np.zeros(3)
    labels = np.array([0, 1, 5, 0])
    with pytest.raises(ValueError, match="labels"):
        core.cost(X, labels, V, b, W, mu, None, opt, "softmax", 0.0, 0.0, 0.0, True, False)
    with pytest.raises(ValueError, match="reversible"):
        core.cost(
            X, X, V, b, None, None, None, opt, "state", 0.0, 0.0, 0.0, True, False, reversible=True
        )
    with pytest.raises(ValueError, match="one layer"):
        core.layer_hamiltonian(X, X, V, b, opt, None)


def test_private_core_refuses_non_arrays_instead_of_reading_freed_memory():
    """Regression: converted temporaries were freed before the kernel read them."""
    core = resode._core
    N = 200_000
    X, V, b = np.zeros((N, 1)), np.zeros((1, 1, 1)), np.zeros((1, 1))
    args = dict(
        V=V,
        b=b,
        sample_weight=None,
        T=1.0,
        form="inner",
        activation="tanh",
        w1=0.0,
        w2=0.0,
        w_head=0.0,
        gamma=0.0,
        grad=True,
        input_grad=False,
        threads=None,
    )
    with pytest.raises(TypeError, match="Y"):
        core.cost(X, np.zeros((N, 1)).tolist(), W=None, mu=None, head="state", **args)
    with pytest.raises(TypeError, match="sample_weight"):
        core.cost(
            X,
            np.zeros((N, 1)),
            W=None,
            mu=None,
            head="state",
            **{**args, "sample_weight": [1.0] * N},
        )
    with pytest.raises(TypeError, match="W"):
        core.cost(X, np.zeros((N, 1)), W=[[1.0]], mu=np.zeros(1), head="linear", **args)


def test_private_block_size_checks_its_arguments():
    with pytest.raises(TypeError):
        resode._core.block_size(4, np.dtype("S0"))
    with pytest.raises(ValueError):
        resode._core.block_size(0, np.dtype(np.float64))
    assert resode._core.block_size(2**61, np.dtype(np.float64)) >= 1


def test_absurd_thread_counts_are_capped():
    kw = make_problem("inner", "tanh", "state", N=10_000, d=2, L=3)
    assert resode.loss_and_grad(**kw, threads=100_000).loss == resode.loss_and_grad(**kw).loss
