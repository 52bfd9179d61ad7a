"""The kernels' activations against NumPy, including the vectorised double tanh."""

from __future__ import annotations

import numpy as np
import pytest

import reference
import resode
from conftest import ACTIVATIONS


def test_tanh_within_a_few_ulp_of_libm():
    x = np.concatenate(
        [
            np.linspace(-40, 40, 400_001),
            np.geomspace(1e-300, 40, 20_001),
            -np.geomspace(1e-300, 40, 20_001),
            [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 1e308, -1e308],
        ]
    )
    got = resode._core.activation(x, "tanh")
    ulp = np.abs(got - np.tanh(x)) / np.spacing(np.abs(np.tanh(x)) + 1e-320)
    assert ulp.max() <= 2  # measured: 1 ulp
    assert np.all(np.abs(got) <= 1) and np.array_equal(np.sign(got), np.sign(np.tanh(x)))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_value_and_derivative(name):
    x = np.linspace(-50, 50, 100_001)
    x = x[x != 0]
    s, ds = reference.ACTIVATIONS[name]
    np.testing.assert_allclose(resode._core.activation(x, name), s(x), rtol=1e-14, atol=1e-300)
    # derivatives like 1 - tanh^2 are accurate to eps absolutely, not relatively, near 0
    np.testing.assert_allclose(
        resode._core.activation(x, name, True), ds(x), rtol=1e-13, atol=1e-15
    )


@pytest.mark.parametrize(("name", "left_derivative"), [("relu", 0.0), ("leaky_relu", 0.01)])
def test_left_derivative_at_the_kink(name, left_derivative):
    assert resode._core.activation(np.zeros(1), name, True)[0] == left_derivative


@pytest.mark.parametrize(
    ("name", "exact"),
    [
        ("tanh", lambda x: 1.0 / np.cosh(x) ** 2),
        ("sigmoid", lambda x: np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))) ** 2),
    ],
)
def test_derivatives_keep_relative_precision_in_saturation(name, exact):
    """1 - tanh^2 or s (1 - s) would lose all digits here; the kernels do not."""
    x = np.concatenate([np.linspace(-30, 30, 60_001), [8.8, -12.0, 25.0]])
    got = resode._core.activation(x, name, True)
    assert np.max(np.abs(got - exact(x)) / exact(x)) < 1e-14  # measured: 4.4e-16 (vs mpmath)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_any_shape_in_float32_and_float64(name):
    x = np.random.default_rng(0).normal(scale=3, size=(7, 5))
    s, ds = reference.ACTIVATIONS[name]
    for derivative, f in ((False, s), (True, ds)):
        got64 = resode._core.activation(x, name, derivative)
        got32 = resode._core.activation(x.astype(np.float32), name, derivative)
        assert got64.shape == got32.shape == x.shape
        assert (got64.dtype, got32.dtype) == (np.float64, np.float32)
        np.testing.assert_allclose(got64, f(x), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(got32, f(x), rtol=2e-6, atol=1e-6)
    with pytest.raises(TypeError, match="x must have dtype"):
        resode._core.activation(np.zeros(3, dtype=np.int64), name)
    with pytest.raises(ValueError, match="C-contiguous"):
        resode._core.activation(np.zeros((4, 4))[:, ::2], name)
