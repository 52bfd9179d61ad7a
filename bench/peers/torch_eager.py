"""PyTorch eager mode: the cost as a tensor expression, the gradient by autograd."""

from __future__ import annotations

import torch
from problem import W1, W2, Grad, LossGradFn, Problem


def cost(X, Y, V, b, h: float, w1: float, w2: float):
    """J of the benchmark problem; samples are rows, so f_k = tanh(X) @ V_k^T + b_k."""
    running = X.new_zeros(())
    x = X
    # unbind once: indexing V[k] in the loop would make autograd scatter into an
    # (L, d, d) zero tensor per layer
    for k, (Vk, bk) in enumerate(zip(V.unbind(0), b.unbind(0), strict=True)):
        if k >= 1:
            running = running + (x - Y).square().sum()
        x = x + h * torch.addmm(bk, torch.tanh(x), Vk.T)
    regulariser = V.square().sum() + b.square().sum()
    return 0.5 * (x - Y).square().sum() + 0.5 * w1 * h * running + 0.5 * w2 * h * regulariser


def tensors(p: Problem):
    """X, Y as tensors sharing NumPy's memory; V, b as leaves that require a gradient."""
    X, Y = torch.from_numpy(p.X), torch.from_numpy(p.Y)
    V = torch.from_numpy(p.V.copy()).requires_grad_()
    b = torch.from_numpy(p.b.copy()).requires_grad_()
    return X, Y, V, b


def build_with(cost_fn, p: Problem, threads: int) -> LossGradFn:
    """A loss+gradient call of cost_fn (eager or compiled) on the problem."""
    torch.set_num_threads(threads)
    X, Y, V, b = tensors(p)

    def run() -> Grad:
        J = cost_fn(X, Y, V, b, p.h, W1, W2)
        dV, db = torch.autograd.grad(J, (V, b))
        return Grad(J.item(), dV.numpy(), db.numpy())

    return run


def build(p: Problem, threads: int) -> LossGradFn:
    return build_with(cost, p, threads)
