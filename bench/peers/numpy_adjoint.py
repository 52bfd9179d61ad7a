"""Vectorised NumPy with a hand-written adjoint, written for speed.

Samples are rows; every buffer is allocated once in build(), and each step
writes into it with ``out=`` so that a call allocates nothing N-sized. The
forward sweep keeps the states and their activations (2 N x d arrays per
layer), which the backward sweep reads in reverse. (The closures update the
buffers with ``out=``: an augmented assignment would rebind the name.)
"""

from __future__ import annotations

import numpy as np
from problem import W1, W2, Grad, LossGradFn, Problem


def build(p: Problem, threads: int) -> LossGradFn:
    del threads  # NumPy's BLAS threads are limited process-wide (machine.pin_threads)
    d, L, N = p.shape
    h = p.h
    states = np.empty((L + 1, N, d), p.dtype)  # states[k] = x_{k+1}; states[0] = X
    acts = np.empty((L, N, d), p.dtype)  # tanh(states[k])
    adj = np.empty((N, d), p.dtype)  # the costate p_{k+1}
    tmp = np.empty((N, d), p.dtype)
    tmp2 = np.empty((N, d), p.dtype)
    VT = np.ascontiguousarray(p.V.transpose(0, 2, 1))
    dV = np.empty_like(p.V)
    db = np.empty_like(p.b)
    regulariser = 0.5 * W2 * h * (np.vdot(p.V, p.V) + np.vdot(p.b, p.b))

    def forward() -> float:
        """Fill states and acts; return the running cost sum over x_2..x_L."""
        states[0] = p.X
        running = 0.0
        for k in range(L):
            x = states[k]
            if k >= 1:
                np.subtract(x, p.Y, out=tmp)
                running += np.vdot(tmp, tmp)
            np.tanh(x, out=acts[k])
            np.matmul(acts[k], VT[k], out=tmp)  # F = tanh(X) @ V_k^T + b_k
            np.add(tmp, p.b[k], out=tmp)
            np.multiply(tmp, h, out=tmp)
            np.add(x, tmp, out=states[k + 1])
        return running

    def backward() -> None:
        """Costate recursion from p_{L+1} = x_{L+1} - y (already in adj), gradients into dV, db."""
        for k in range(L - 1, -1, -1):
            s = acts[k]
            np.matmul(adj.T, s, out=dV[k])
            np.sum(adj, axis=0, out=db[k])
            np.matmul(adj, p.V[k], out=tmp)  # (V_k^T p) as rows
            np.multiply(s, s, out=tmp2)
            np.subtract(1.0, tmp2, out=tmp2)  # tanh' = 1 - tanh^2
            np.multiply(tmp, tmp2, out=tmp)
            np.multiply(tmp, h, out=tmp)
            np.add(adj, tmp, out=adj)
            if k >= 1:
                np.subtract(states[k], p.Y, out=tmp)
                np.multiply(tmp, h * W1, out=tmp)
                np.add(adj, tmp, out=adj)
        np.multiply(dV, h, out=dV)
        np.multiply(db, h, out=db)
        np.add(dV, (W2 * h) * p.V, out=dV)
        np.add(db, (W2 * h) * p.b, out=db)

    def run() -> Grad:
        running = forward()
        np.subtract(states[L], p.Y, out=adj)
        loss = 0.5 * np.vdot(adj, adj) + 0.5 * W1 * h * running + regulariser
        backward()
        return Grad(float(loss), dV.copy(), db.copy())

    return run
