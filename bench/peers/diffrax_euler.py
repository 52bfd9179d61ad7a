"""diffrax: diffeqsolve with Euler and fixed steps dt0 = h, gradient by jax.grad.

The parameters are piecewise constant in time (the vector field picks layer k
from t); the states are saved at the layer times for the running cost, with
SaveAt(steps=True): the steps end exactly at the layer times. (With
SaveAt(ts=k h), a save time one rounding error before the accumulated step
time gave the right loss but a gradient 0.5 % off, diffrax 0.7.2.) The default
adjoint (RecursiveCheckpointAdjoint) differentiates through the solver
steps, so the gradient is the same discrete gradient as resode's.
"""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from problem import W1, W2, Grad, LossGradFn, Problem, T

from peers import jax_scan  # noqa: F401 (enables float64 in JAX before any array is made)


def cost(V, b, X, Y, h):
    L = V.shape[0]

    def field(t, x, args):
        V, b = args
        # Euler evaluates f at t_k = k h; round() absorbs t's rounding error
        k = jnp.clip(jnp.round(t / h).astype(jnp.int32), 0, L - 1)
        return jnp.tanh(x) @ V[k].T + b[k]

    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Euler(),
        t0=0.0,
        t1=T,
        dt0=h,
        y0=X,
        args=(V, b),
        saveat=diffrax.SaveAt(steps=True),
        max_steps=L,  # one step per layer: a stray extra step would fail, not go unseen
    )
    states = solution.ys  # (L, N, d): x_2 .. x_{L+1}, saved at the layer times t_1 .. t_L
    r = states[:-1] - Y
    running = jnp.vdot(r, r)
    final = states[-1] - Y
    regulariser = jnp.vdot(V, V) + jnp.vdot(b, b)
    return 0.5 * jnp.vdot(final, final) + 0.5 * W1 * h * running + 0.5 * W2 * h * regulariser


loss_and_grad = jax.jit(jax.value_and_grad(cost, argnums=(0, 1)), static_argnums=4)


def build(p: Problem, threads: int) -> LossGradFn:
    del threads  # XLA's thread pool is sized before import (machine.pin_threads)
    V, b, X, Y = (jax.device_put(a) for a in (p.V, p.b, p.X, p.Y))

    def run() -> Grad:
        J, (dV, db) = loss_and_grad(V, b, X, Y, p.h)
        return Grad(float(J), np.asarray(dV), np.asarray(db))

    return run
