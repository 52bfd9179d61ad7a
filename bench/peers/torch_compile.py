"""torch.compile (Inductor) of the eager peer's cost function, gradient by autograd.

Dynamo unrolls the loop over layers, so the compile time grows with L; the
runner reports it apart from the warm time. Each problem size gets a fresh
compile (torch._dynamo.reset), so that shapes stay static and the recompile
limit is never reached.
"""

from __future__ import annotations

import torch
from problem import LossGradFn, Problem

from peers.torch_eager import build_with, cost


def build(p: Problem, threads: int) -> LossGradFn:
    torch._dynamo.reset()
    return build_with(torch.compile(cost), p, threads)
