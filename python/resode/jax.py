"""resode's sweeps as JAX functions with a custom VJP (extra ``jax``).

:func:`forward` and :func:`trajectory` run resode's C++ forward sweep through
``jax.pure_callback``, and their ``jax.custom_vjp`` backward rule runs its
adjoint sweep (:func:`resode.functional.vjp`). They work under ``jax.jit``,
``jax.grad`` / ``jax.value_and_grad`` and ``jax.vmap`` (the callback then runs
once per batch element). float32, and float64 with ``jax_enable_x64``. The
arrays pass through host memory: on an accelerator each call copies them to
the CPU and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised without jax installed
    raise ImportError(
        "resode.jax needs JAX: pip install 'resode[jax]' (or install jax yourself)"
    ) from exc

from . import _validation as v
from . import functional as F

__all__ = ["forward", "trajectory"]

_DTYPES = (np.dtype("float32"), np.dtype("float64"))


@dataclass(frozen=True)
class _Options:
    """The network's static options (hashable: a non-differentiable argument)."""

    T: float
    form: str
    activation: str
    scheme: str
    gamma: float
    project: str | None
    n_layers: int | None
    threads: int | None


def _host_forward(trajectory: bool, opts: _Options, x, V, b) -> np.ndarray:
    run = F.trajectory if trajectory else F.forward
    return run(np.asarray(x), np.asarray(V), np.asarray(b), **asdict(opts))


def _host_vjp(trajectory: bool, opts: _Options, x, V, b, g):
    arrays = (np.asarray(a) for a in (x, V, b, g))
    return F.vjp(*arrays, trajectory=trajectory, **asdict(opts))


def _sweep(x, V, b, trajectory: bool, opts: _Options):
    L = V.shape[0] if opts.n_layers is None else opts.n_layers
    shape = (L + 1, *x.shape) if trajectory else x.shape
    return jax.pure_callback(
        partial(_host_forward, trajectory, opts),
        jax.ShapeDtypeStruct(shape, x.dtype),
        x, V, b,
        vmap_method="sequential",
    )  # fmt: skip


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _block(x, V, b, trajectory: bool, opts: _Options):
    return _sweep(x, V, b, trajectory, opts)


def _block_fwd(x, V, b, trajectory, opts):
    # residuals: the inputs only; the backward sweep recomputes the states
    return _sweep(x, V, b, trajectory, opts), (x, V, b)


def _block_bwd(trajectory, opts, residuals, g):
    x, V, b = residuals
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in residuals)
    return jax.pure_callback(
        partial(_host_vjp, trajectory, opts), shapes, x, V, b, g, vmap_method="sequential"
    )


_block.defvjp(_block_fwd, _block_bwd)


def _check(x, V, b, form: str) -> None:
    for name, a in (("x", x), ("V", V), ("b", b)):
        dtype = np.dtype(getattr(a, "dtype", None) or np.asarray(a).dtype)
        if dtype not in _DTYPES:
            raise TypeError(f"{name} must have dtype float32 or float64, got {dtype}")
        if name != "x" and dtype != np.dtype(x.dtype):
            raise TypeError(
                f"{name} has dtype {dtype} but x has {x.dtype}; convert one of them, "
                f"e.g. {name}.astype(x.dtype)"
            )
    v.check_block_shapes(form, x.shape, V.shape, b.shape)


def _call(x, V, b, trajectory: bool, **options: Any):
    x, V, b = (jnp.asarray(a) for a in (x, V, b))
    _check(x, V, b, options["form"])
    n_layers = options["n_layers"]
    opts = _Options(
        T=float(options["T"]),
        form=options["form"],
        activation=options["activation"],
        scheme=options["scheme"],
        gamma=float(options["gamma"]),
        project=options["project"],
        n_layers=None if n_layers is None else v.integer("n_layers", n_layers),
        threads=options["threads"],
    )
    return _block(x, V, b, trajectory, opts)


def forward(
    x: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    scheme: str = "euler",
    gamma: float = 0.0,
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> jax.Array:
    """The final states x_{L+1} (N, d) of :func:`resode.forward`, differentiable in x, V, b.

    Arguments as for :func:`resode.forward`, as JAX arrays of one dtype. Reverse
    mode only (``jax.grad``, ``jax.vjp``): the backward rule is resode's adjoint
    sweep, which recomputes the states from x, V and b.
    """
    return _call(
        x, V, b, False, T=T, form=form, activation=activation, scheme=scheme, gamma=gamma,
        project=project, n_layers=n_layers, threads=threads,
    )  # fmt: skip


def trajectory(
    x: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    scheme: str = "euler",
    gamma: float = 0.0,
    project: str | None = None,
    n_layers: int | None = None,
    threads: int | None = None,
) -> jax.Array:
    """All states (L+1, N, d) of :func:`resode.trajectory`, differentiable in x, V, b."""
    return _call(
        x, V, b, True, T=T, form=form, activation=activation, scheme=scheme, gamma=gamma,
        project=project, n_layers=n_layers, threads=threads,
    )  # fmt: skip
