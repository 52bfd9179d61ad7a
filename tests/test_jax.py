"""resode.jax: the custom VJP against jax.test_util.check_grads, the same network
in plain JAX (jax.grad through the layers), resode's NumPy API; jit, grad,
vmap; float32 and float64; bad input."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import resode  # noqa: E402
import resode.jax as rj  # noqa: E402
from framework_reference import trajectory as plain_trajectory  # noqa: E402
from resode import _validation as v  # noqa: E402


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _params(form, d=4, n=3, G=3, dtype=np.float64, seed=0, scale=0.4):
    rng = np.random.default_rng(seed)
    v_shape, b_shape, _, _ = v.param_shapes(form, d)
    V = scale * rng.normal(size=(G, *v_shape))
    if form == "resnet_d":
        V[:, 1] = np.abs(V[:, 1])
    arrays = rng.normal(size=(n, d)), V, scale * rng.normal(size=(G, *b_shape))
    return tuple(jnp.asarray(a.astype(dtype)) for a in arrays)


COMBOS = [
    ("inner", "euler"),
    ("outer", "heun"),
    ("antisymmetric", "rk4"),
    ("symmetric", "euler"),
    ("resnet_d", "heun"),
    ("hamiltonian", "verlet"),
    ("hamiltonian_hr", "symplectic_euler"),
]


@pytest.mark.parametrize(("form", "scheme"), COMBOS)
def test_check_grads_reverse_mode(form, scheme):
    args = _params(form)
    check_grads(
        lambda x, V, b: rj.forward(x, V, b, form=form, scheme=scheme), args, order=1, modes=["rev"]
    )


def test_check_grads_trajectory():
    check_grads(
        lambda x, V, b: rj.trajectory(x, V, b, scheme="rk4"),
        _params("outer"),
        order=1,
        modes=["rev"],
    )


OPTIONS = [
    dict(form="inner", activation="tanh"),
    dict(form="outer", activation="sigmoid", project="relu", n_layers=6),
    dict(form="antisymmetric", activation="softplus", gamma=0.1, scheme="rk4"),
    dict(form="hamiltonian", activation="tanh", scheme="verlet"),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("traj", [False, True], ids=["forward", "trajectory"])
def test_equals_numpy_api_and_plain_jax(opts, traj):
    x, V, b = _params(opts["form"], d=6, n=20, seed=1)
    run = rj.trajectory if traj else rj.forward
    numpy_run = resode.trajectory if traj else resode.forward
    out = run(x, V, b, **opts)
    np.testing.assert_array_equal(np.asarray(out), numpy_run(*map(np.asarray, (x, V, b)), **opts))

    def plain(x, V, b):
        states = plain_trajectory("jax", x, V, b, **opts)
        return states if traj else states[-1]

    cot = jnp.asarray(np.random.default_rng(2).normal(size=out.shape))
    ours = jax.grad(lambda *a: jnp.sum(run(*a, **opts) * cot), argnums=(0, 1, 2))(x, V, b)
    want = jax.grad(lambda *a: jnp.sum(plain(*a) * cot), argnums=(0, 1, 2))(x, V, b)
    np.testing.assert_allclose(np.asarray(out), np.asarray(plain(x, V, b)), rtol=1e-12, atol=1e-13)
    for name, got, ref in zip("xVb", ours, want, strict=True):
        scale = float(jnp.abs(ref).max())
        assert float(jnp.abs(got - ref).max()) <= 1e-10 * scale, name


def test_jit_grad_and_value_and_grad():
    x, V, b = _params("inner", d=4, n=10)

    @jax.jit
    def loss(V, b):
        return jnp.sum(rj.forward(x, V, b, scheme="heun") ** 2)

    value, (gV, gb) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(V, b)
    assert float(value) == pytest.approx(
        float(np.sum(resode.forward(*map(np.asarray, (x, V, b)), scheme="heun") ** 2))
    )
    ref = resode.vjp(
        *map(np.asarray, (x, V, b)),
        2 * resode.forward(*map(np.asarray, (x, V, b)), scheme="heun"),
        scheme="heun",
    )
    np.testing.assert_allclose(np.asarray(gV), ref[1], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), ref[2], rtol=1e-12)


def test_vmap_over_a_leading_batch_axis():
    x, V, b = _params("outer", d=4, n=5)
    xs = jnp.stack([x, 2 * x, -x])
    out = jax.vmap(lambda x: rj.forward(x, V, b, form="outer"))(xs)
    for i in range(3):
        np.testing.assert_array_equal(
            np.asarray(out[i]), np.asarray(rj.forward(xs[i], V, b, form="outer"))
        )
    # the gradient of a batched loss in the shared parameters sums the batch
    gV = jax.grad(
        lambda V: jnp.sum(jax.vmap(lambda x: rj.forward(x, V, b, form="outer"))(xs) ** 2)
    )(V)
    want = sum(
        jax.grad(lambda V, x=x: jnp.sum(rj.forward(x, V, b, form="outer") ** 2))(V) for x in xs
    )
    np.testing.assert_allclose(np.asarray(gV), np.asarray(want), rtol=1e-12)
    # batched parameters too
    Vs = jnp.stack([V, 0.5 * V])
    out = jax.vmap(lambda V: rj.forward(x, V, b, form="outer"))(Vs)
    np.testing.assert_array_equal(
        np.asarray(out[1]), np.asarray(rj.forward(x, 0.5 * V, b, form="outer"))
    )


def test_float32():
    x, V, b = _params("inner", dtype=np.float32)
    out = rj.forward(x, V, b)
    assert out.dtype == jnp.float32
    g = jax.grad(lambda V: jnp.sum(rj.forward(x, V, b)))(V)
    assert g.dtype == jnp.float32 and bool(jnp.isfinite(g).all())


def test_bad_input_names_the_argument():
    x, V, b = _params("inner")
    with pytest.raises(TypeError, match="x must have dtype float32 or float64"):
        rj.forward(x.astype(jnp.int32), V, b)
    with pytest.raises(TypeError, match="x must have dtype float32 or float64"):
        rj.forward(x.astype(jnp.float16), V, b)
    with pytest.raises(TypeError, match="V has dtype float32 but x has float64"):
        rj.forward(x, V.astype(jnp.float32), b)
    with pytest.raises(ValueError, match=r"b must have shape \(L, \*\(d,\)\)"):
        rj.forward(x, V, b[:, :2])
    with pytest.raises(ValueError, match="x must be 2-D"):
        rj.forward(x[None], V, b)


def test_non_finite_state_names_the_layer():
    x = jnp.full((2, 2), 1e300)
    V, b = jnp.full((3, 2, 2), 1e10), jnp.zeros((3, 2))
    # JAX wraps exceptions raised in callbacks; the message is resode's
    with pytest.raises(Exception, match="non-finite state after layer 0"):
        rj.forward(x, V, b, form="outer", activation="identity").block_until_ready()
