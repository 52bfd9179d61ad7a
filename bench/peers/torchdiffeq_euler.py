"""torchdiffeq: odeint with method="euler" on the layer grid t_k = k h.

The parameters are piecewise constant in time: the vector field picks layer k
from t. The gradient is autograd through the solver (odeint, not
odeint_adjoint), so it is the same discrete gradient as resode's.
"""

from __future__ import annotations

import torch
from problem import W1, W2, Grad, LossGradFn, Problem, T
from torchdiffeq import odeint

from peers.torch_eager import tensors


class LayerField(torch.nn.Module):
    """f(t, x) = tanh(x) @ V_k^T + b_k with k the layer whose step starts at t."""

    def __init__(self, V, b, h: float):
        super().__init__()
        self.V, self.b, self.h = V.unbind(0), b.unbind(0), h

    def forward(self, t, x):
        # Euler evaluates f at the grid points; round() absorbs t's rounding error
        k = min(round(float(t) / self.h), len(self.V) - 1)
        return torch.addmm(self.b[k], torch.tanh(x), self.V[k].T)


def build(p: Problem, threads: int) -> LossGradFn:
    torch.set_num_threads(threads)
    X, Y, V, b = tensors(p)
    L, h = len(p.V), p.h
    grid = torch.linspace(0.0, T, L + 1, dtype=torch.float64)

    def run() -> Grad:
        states = odeint(LayerField(V, b, h), X, grid, method="euler")  # (L+1, N, d)
        running = (states[1:L] - Y).square().sum()
        regulariser = V.square().sum() + b.square().sum()
        J = (
            0.5 * (states[L] - Y).square().sum()
            + 0.5 * W1 * h * running
            + 0.5 * W2 * h * regulariser
        )
        dV, db = torch.autograd.grad(J, (V, b))
        return Grad(J.item(), dV.numpy(), db.numpy())

    return run
