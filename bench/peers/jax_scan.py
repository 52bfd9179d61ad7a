"""JAX: jit of jax.value_and_grad of the cost, with lax.scan over the layers.

float64 needs jax_enable_x64 (set at import, before any array is made); float32
problems stay float32. The XLA thread flags are set by machine.pin_threads
before JAX is first imported.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from problem import W1, W2, Grad, LossGradFn, Problem

jax.config.update("jax_enable_x64", True)


def cost(V, b, X, Y, h):
    """J of the benchmark problem; scan carries the state and the running cost."""

    def layer(carry, params):
        x, running = carry
        Vk, bk, k = params
        r = x - Y
        running = running + jnp.where(k >= 1, jnp.vdot(r, r), 0.0)  # x_2..x_L only
        x = x + h * (jnp.tanh(x) @ Vk.T + bk)
        return (x, running), None

    layers = jnp.arange(V.shape[0])
    (x, running), _ = jax.lax.scan(layer, (X, jnp.zeros((), X.dtype)), (V, b, layers))
    r = x - Y
    regulariser = jnp.vdot(V, V) + jnp.vdot(b, b)
    return 0.5 * jnp.vdot(r, r) + 0.5 * W1 * h * running + 0.5 * W2 * h * regulariser


# h is a static argument: it is a Python float, and a new L recompiles anyway
loss_and_grad = jax.jit(jax.value_and_grad(cost, argnums=(0, 1)), static_argnums=4)


def build(p: Problem, threads: int) -> LossGradFn:
    del threads  # XLA's thread pool is sized before import (machine.pin_threads)
    V, b, X, Y = (jax.device_put(a) for a in (p.V, p.b, p.X, p.Y))

    def run() -> Grad:
        J, (dV, db) = loss_and_grad(V, b, X, Y, p.h)
        return Grad(float(J), np.asarray(dV), np.asarray(db))

    return run
