"""The network written in plain PyTorch or plain JAX, layer by layer, for the tests.

Autograd through these layers (torch.autograd, jax.grad) is the independent
second implementation that resode.torch and resode.jax are checked against.
The formulas are transcribed from tests/reference.py (samples are rows); only
the array library differs, through the small namespace of `Ops`.
"""

from __future__ import annotations

# the schemes' coefficients, from the NumPy oracle
from reference import _SPLITTINGS as SPLITTINGS
from reference import _TABLEAUS as TABLEAUS


class Ops:
    """The few array functions the network needs, from torch or jax.numpy."""

    def __init__(self, framework: str):
        if framework == "torch":
            import torch

            self.cat = lambda xs: torch.cat(xs, dim=1)
            self.stack = torch.stack
            self.eye = lambda n, like: torch.eye(n, dtype=like.dtype)
            self.zeros_like = torch.zeros_like
            self.activations = {
                "tanh": torch.tanh,
                "relu": torch.relu,
                "sigmoid": torch.sigmoid,
                "softplus": torch.nn.functional.softplus,
                "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.01),
                "identity": lambda x: x,
            }
        else:
            import jax
            import jax.numpy as jnp

            self.cat = lambda xs: jnp.concatenate(xs, axis=1)
            self.stack = jnp.stack
            self.eye = lambda n, like: jnp.eye(n, dtype=like.dtype)
            self.zeros_like = jnp.zeros_like
            self.activations = {
                "tanh": jnp.tanh,
                "relu": jax.nn.relu,
                "sigmoid": jax.nn.sigmoid,
                "softplus": jax.nn.softplus,
                "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.01),
                "identity": lambda x: x,
            }


def field(ops: Ops, form, activation, Vk, bk, X, gamma=0.0):
    """f_k over the rows of X (tests/reference.py's _Form.value)."""
    s = ops.activations[activation]

    def sym(K, c, Z):  # -K^T s(K z + c) per row
        return -s(Z @ K.T + c) @ K

    if form == "inner":
        return s(X) @ Vk.T + bk
    if form == "outer":
        return s(X @ Vk.T + bk)
    if form == "antisymmetric":
        A = Vk - Vk.T - gamma * ops.eye(Vk.shape[0], Vk)
        return s(X @ A.T + bk)
    if form == "symmetric":
        return sym(Vk, bk, X)
    if form == "resnet_d":
        K, A = Vk[0], Vk[1]
        return -s(X @ K.T + bk[0]) @ A.T + bk[1]
    m = X.shape[1] // 2
    y, z = X[:, :m], X[:, m:]
    if form == "hamiltonian":
        return ops.cat([-sym(Vk[0], bk[0], z), sym(Vk[1], bk[1], y)])
    if form == "hamiltonian_hr":
        return ops.cat([s(z @ Vk.T + bk[0]), -s(y @ Vk + bk[1])])
    raise ValueError(form)


def _half(ops: Ops, F, half):
    m = F.shape[1] // 2
    zeros = ops.zeros_like(F[:, :m])
    return ops.cat([F[:, :m], zeros]) if half == "y" else ops.cat([zeros, F[:, m:]])


def step(ops: Ops, f, x, h, scheme):
    """One step Phi of the scheme for the field f (a function of the states)."""
    if scheme in TABLEAUS:
        A, c = TABLEAUS[scheme]
        ks = []
        for i in range(len(c)):
            xi = x
            for j in range(i):
                if A[i][j]:
                    xi = xi + h * A[i][j] * ks[j]
            ks.append(f(xi))
        out = x
        for i in range(len(c)):
            out = out + h * c[i] * ks[i]
        return out
    for half, c in SPLITTINGS[scheme]:
        x = x + c * h * _half(ops, f(x), half)
    return x


def trajectory(
    framework, X, V, b, *, T=1.0, form="inner", activation="tanh", scheme="euler", gamma=0.0,
    project=None, n_layers=None,
):  # fmt: skip
    """All states (L+1, N, d), autograd-able in the framework's own arrays."""
    ops = Ops(framework)
    G = V.shape[0]
    L = G if n_layers is None else n_layers
    share = -(-L // G)
    h = T / L
    xs = [X]
    for k in range(L):
        g = k // share

        def f(Z, g=g):
            return field(ops, form, activation, V[g], b[g], Z, gamma)

        x = step(ops, f, xs[-1], h, scheme)
        if project == "relu":
            x = ops.activations["relu"](x)
        xs.append(x)
    return ops.stack(xs)
