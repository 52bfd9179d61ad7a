"""resode.loss_and_grad: the C++ kernel, the reference every peer is checked against."""

from __future__ import annotations

from problem import RESODE_COST, Grad, LossGradFn, Problem

import resode


def build(p: Problem, threads: int) -> LossGradFn:
    def run() -> Grad:
        g = resode.loss_and_grad(p.X, p.Y, p.V, p.b, **RESODE_COST, threads=threads)
        return Grad(g.loss, g.dV, g.db)

    return run
