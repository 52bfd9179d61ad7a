"""resode.torch: the custom operators and ODEBlock against torch's own checkers
(gradcheck, opcheck), the same network in plain torch (autograd through the
layers), resode's NumPy API, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import resode  # noqa: E402
import resode.torch as rt  # noqa: E402
from conftest import ticks_during  # noqa: E402
from framework_reference import trajectory as plain_trajectory  # noqa: E402
from resode import _validation as v  # noqa: E402

RK = ("euler", "heun", "rk4")
COMBOS = [(form, scheme) for form in v.FORMS for scheme in RK] + [
    (form, scheme) for form in v.HAMILTONIAN_FORMS for scheme in v.SYMPLECTIC_SCHEMES
]


def _params(form, d=4, n=3, G=3, dtype=torch.float64, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    v_shape, b_shape, _, _ = v.param_shapes(form, d)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    V = scale * torch.randn(G, *v_shape, generator=g, dtype=dtype)
    b = scale * torch.randn(G, *b_shape, generator=g, dtype=dtype)
    if form == "resnet_d":
        V[:, 1] = V[:, 1].abs()
    return x, V, b


def _leaves(*ts):
    return tuple(t.clone().requires_grad_() for t in ts)


@pytest.mark.parametrize(("form", "scheme"), COMBOS)
def test_gradcheck_every_form_and_scheme(form, scheme):
    x, V, b = _leaves(*_params(form))
    assert torch.autograd.gradcheck(
        lambda x, V, b: rt.forward(x, V, b, form=form, scheme=scheme), (x, V, b)
    )


@pytest.mark.parametrize("scheme", ["euler", "rk4"])
def test_gradcheck_trajectory(scheme):
    x, V, b = _leaves(*_params("outer"))
    assert torch.autograd.gradcheck(
        lambda x, V, b: rt.trajectory(x, V, b, form="outer", scheme=scheme), (x, V, b)
    )


OPTIONS = [
    dict(form="inner", activation="tanh"),
    dict(form="outer", activation="sigmoid", project="relu"),
    dict(form="antisymmetric", activation="softplus", gamma=0.1),
    dict(form="symmetric", activation="leaky_relu", scheme="heun", n_layers=6),
    dict(form="resnet_d", activation="tanh", scheme="rk4", T=2.0),
    dict(form="hamiltonian", activation="tanh", scheme="verlet", n_layers=5),
    dict(form="hamiltonian_hr", activation="identity", scheme="symplectic_euler"),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("traj", [False, True], ids=["forward", "trajectory"])
def test_equals_numpy_api_and_plain_torch_autograd(opts, traj):
    x, V, b = _params(opts["form"], d=6, n=20, G=3, seed=1)
    run = rt.trajectory if traj else rt.forward
    out = run(*_leaves(x, V, b), **opts)
    numpy_run = resode.trajectory if traj else resode.forward
    np.testing.assert_array_equal(
        out.detach().numpy(), numpy_run(x.numpy(), V.numpy(), b.numpy(), **opts)
    )

    cot = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype)
    ours = _leaves(x, V, b)
    grads = torch.autograd.grad((run(*ours, **opts) * cot).sum(), ours)
    plain = _leaves(x, V, b)
    states = plain_trajectory("torch", *plain, **opts)
    ref_out = states if traj else states[-1]
    torch.testing.assert_close(out.detach(), ref_out.detach(), rtol=1e-12, atol=1e-13)
    expected = torch.autograd.grad((ref_out * cot).sum(), plain)
    for name, got, want in zip("xVb", grads, expected, strict=True):
        scale = want.abs().max().item()
        err = (got - want).abs().max().item()
        assert err <= 1e-10 * scale, f"d{name}: {err:.3g} against {scale:.3g}"


@pytest.mark.parametrize("traj", [False, True])
def test_opcheck(traj):
    x, V, b = _leaves(*_params("inner"))
    args = (x, V, b, traj, 1.0, "inner", "tanh", "euler", 0.0, None, None, None)
    torch.library.opcheck(torch.ops.resode.forward.default, args)
    G = torch.randn((4, 3, 4) if traj else (3, 4), dtype=torch.float64)
    vjp_args = (x.detach(), V.detach(), b.detach(), G, *args[3:])
    torch.library.opcheck(
        torch.ops.resode.vjp.default, vjp_args, test_utils=("test_schema", "test_faketensor")
    )


def test_float32_and_non_contiguous_inputs():
    x, V, b = _params("outer", d=5, n=8, dtype=torch.float32)
    xt = x.t().contiguous().t()  # the same values, column-major
    assert not xt.is_contiguous()
    Vt = V.transpose(1, 2).contiguous().transpose(1, 2)
    out = rt.forward(xt, Vt, b, form="outer")
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(
        out.numpy(), resode.forward(x.numpy(), V.numpy(), b.numpy(), form="outer")
    )
    leaves = _leaves(xt, Vt, b)
    rt.forward(*leaves, form="outer").sum().backward()
    assert all(t.grad.dtype == torch.float32 and torch.isfinite(t.grad).all() for t in leaves)


def test_compiled_training_step_matches_eager():
    torch.manual_seed(0)
    X, y = torch.randn(64, 3), torch.randint(0, 2, (64,))

    def make():
        torch.manual_seed(1)
        net = torch.nn.Sequential(
            torch.nn.Linear(3, 4), rt.ODEBlock(4, 6, seed=0), torch.nn.Linear(4, 2)
        )
        return net, torch.optim.Adam(net.parameters(), lr=0.05)

    def train_step(forward, opt):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(X), y)
        loss.backward()
        opt.step()
        return loss.detach()

    eager, opt_e = make()
    compiled, opt_c = make()
    # the model's forward and backward compiled as one graph (fullgraph: no graph break at
    # the custom operator); the optimiser steps eagerly, as usual with torch.compile
    forward_c = torch.compile(compiled, fullgraph=True)
    for _ in range(3):
        le, lc = train_step(eager, opt_e), train_step(forward_c, opt_c)
        torch.testing.assert_close(lc, le, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled[1].V, eager[1].V, rtol=1e-5, atol=1e-6)
    assert not torch.equal(compiled[1].V, rt.ODEBlock(4, 6, seed=0).V)  # it trained


def test_ode_block_shapes_and_model_round_trip(tmp_path):
    block = rt.ODEBlock(
        6, 8, form="hamiltonian", scheme="verlet", share=2, seed=3, dtype=torch.float64
    )
    assert block.V.shape == (4, 2, 3, 3) and block.b.shape == (4, 2, 3)
    assert {n for n, _ in block.named_parameters()} == {"V", "b"}
    model = block.to_model()
    assert model.form == "hamiltonian" and model.share == 2
    np.testing.assert_array_equal(model.V, block.V.detach().numpy())
    x = torch.randn(5, 6, dtype=torch.float64)
    np.testing.assert_array_equal(block(x).detach().numpy(), model.forward(x.numpy()))
    model.save(tmp_path / "block.npz")
    again = rt.ODEBlock.from_model(resode.load(tmp_path / "block.npz"))
    torch.testing.assert_close(again(x), block(x), rtol=0, atol=0)
    assert again.V.requires_grad and again.V.dtype == torch.float64


def test_bad_input_names_the_argument():
    x, V, b = _params("inner")
    with pytest.raises(ValueError, match=r"x is on device meta.*x\.cpu\(\)"):
        rt.forward(x.to("meta"), V, b)
    for dtype in (torch.float16, torch.bfloat16, torch.int64, torch.complex128):
        with pytest.raises(TypeError, match=r"x must have dtype torch\.float32 or torch\.float64"):
            rt.forward(x.to(dtype), V.to(dtype), b.to(dtype))
    with pytest.raises(TypeError, match=r"b has dtype torch\.float32 but x has torch\.float64"):
        rt.forward(x, V, b.float())
    with pytest.raises(ValueError, match=r"V must have shape \(L, \*\(d, d\)\)"):
        rt.forward(x, V[:, :2], b)
    with pytest.raises(ValueError, match="x must be 2-D"):
        rt.forward(x[0], V, b)
    with pytest.raises(ValueError, match="form must be one of"):
        rt.forward(x, V, b, form="sideways")
    with pytest.raises(TypeError, match=r"V must be a torch\.Tensor"):
        rt.forward(x, V.numpy(), b)


def test_double_backward_raises():
    x, V, b = _leaves(*_params("inner"))
    (gx,) = torch.autograd.grad(rt.forward(x, V, b).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives"):
        gx.sum().backward()


def test_non_finite_state_raises_nonfinite_error():
    x = torch.full((2, 2), 1e300, dtype=torch.float64)
    V, b = torch.full((3, 2, 2), 1e10, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(resode.NonFiniteError, match="non-finite state after layer 0"):
        rt.forward(x, V, b, form="outer", activation="identity")


def test_backward_keeps_only_the_inputs_not_the_states():
    # what autograd saves for the backward pass: x, V and b, never the L states
    # (the adjoint sweep recomputes them), so the graph's memory does not grow with L
    x, V, b = _leaves(*_params("inner", n=50, G=40))
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = rt.forward(x, V, b)
    assert sorted(saved) == sorted([x.numel(), V.numel(), b.numel()])
    out.sum().backward()
    assert x.grad is not None and V.grad is not None


def test_gil_is_released_in_the_forward_and_backward_kernels():
    x, V, b = _leaves(*_params("inner", d=8, n=50_000, G=200))
    # with the GIL held through the kernels, the spinner could hardly run
    assert ticks_during(lambda: rt.forward(x, V, b, threads=1).sum().backward()) > 1000
