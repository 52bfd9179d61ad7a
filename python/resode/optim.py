"""Optimisers and learning-rate schedules for :func:`resode.training.fit`.

An optimiser updates a dict of parameter arrays in place from a dict of
gradients of the mean cost J/N. L-BFGS is not a step rule: fit() hands it to
scipy.optimize.minimize with the exact gradient. MSA and ExtendedMSA (defined in
:mod:`resode.msa`) are not gradient steps either: they solve a problem per layer
from the forward and backward sweeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import _core
from . import _validation as v
from .msa import MSA, ExtendedMSA

__all__ = [
    "GD",
    "LBFGS",
    "MSA",
    "SGD",
    "Adam",
    "Constant",
    "Cosine",
    "ExtendedMSA",
    "StepDecay",
    "make_optimizer",
    "make_schedule",
]

Params = dict[str, np.ndarray]


class GD:
    """Gradient descent, theta <- theta - lr grad (full batch, as in Veldman's lecture notes)."""

    default_lr = 0.1
    full_batch = True

    def reset(self, params: Params) -> None:
        pass

    def step(self, params: Params, grads: Params, lr: float) -> None:
        for name, p in params.items():
            p -= lr * grads[name]


class SGD(GD):
    """Mini-batch SGD with (heavy-ball or Nesterov) momentum, as in PyTorch:
    v <- momentum v + grad;  theta <- theta - lr v (Nesterov: - lr (grad + momentum v))."""

    default_lr = 0.05
    full_batch = False

    def __init__(self, momentum: float = 0.9, nesterov: bool = False):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.velocity: Params = {}

    def reset(self, params: Params) -> None:
        self.velocity = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: Params, grads: Params, lr: float) -> None:
        if self.velocity.keys() != params.keys():  # never reset (a resumed fresh object)
            self.reset(params)
        for name, p in params.items():
            v = self.velocity[name]
            v *= self.momentum
            v += grads[name]
            p -= lr * (grads[name] + self.momentum * v if self.nesterov else v)


class Adam(GD):
    """Adam (Kingma & Ba, 2015) with bias correction:
    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    theta <- theta - (lr / c1) m / (sqrt(v / c2) + eps), c_i = 1 - beta_i^t."""

    default_lr = 0.01
    full_batch = False

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1}, {beta2}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}
        self._slices: dict = {}

    def reset(self, params: Params) -> None:
        self.t = 0
        # the moments of all parameters in one vector each (m[name], v[name] are views),
        # which the compiled step updates with the parameters in one call
        size = sum(p.size for p in params.values())
        dtype = np.result_type(*params.values()) if params else np.float64
        self._m, self._v = np.zeros(size, dtype), np.zeros(size, dtype)
        self._slices, start = {}, 0
        for k, p in params.items():
            self._slices[k] = (slice(start, start + p.size), p.shape)
            start += p.size
        self.m = {k: self._m[s].reshape(shape) for k, (s, shape) in self._slices.items()}
        self.v = {k: self._v[s].reshape(shape) for k, (s, shape) in self._slices.items()}

    def step(self, params: Params, grads: Params, lr: float) -> None:
        if self._slices.keys() != params.keys():  # never reset (a resumed fresh object)
            self.reset(params)
        self.t += 1
        names = list(self._slices)
        _core.adam_step(
            [params[k] for k in names],
            [v.kernel_array(grads[k], self._m.dtype) for k in names],
            self._m,
            self._v,
            lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.t,
        )


class LBFGS:
    """L-BFGS (scipy.optimize.minimize, method L-BFGS-B) on the full-batch mean cost.

    One epoch is one L-BFGS iteration; ``lr`` is not used.
    """

    default_lr = 1.0
    full_batch = True

    def __init__(self, memory: int = 10, gtol: float = 1e-9, ftol: float = 1e-12):
        self.memory, self.gtol, self.ftol = int(memory), float(gtol), float(ftol)


OPTIMIZERS = {"gd": GD, "sgd": SGD, "adam": Adam, "lbfgs": LBFGS, "msa": MSA, "emsa": ExtendedMSA}


def make_optimizer(optimizer) -> GD | LBFGS | MSA:
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {tuple(OPTIMIZERS)} or an optimiser "
                f"object, got {optimizer!r}"
            )
        return OPTIMIZERS[optimizer]()
    if isinstance(optimizer, (GD, LBFGS, MSA)):
        return optimizer
    raise TypeError(
        f"optimizer must be a name or an optimiser object, got {type(optimizer).__name__}"
    )


class Constant:
    """lr at every epoch."""

    def __init__(self, lr: float):
        self.lr = _positive("lr", lr)

    def __call__(self, epoch: int) -> float:
        return self.lr


class StepDecay:
    """lr multiplied by ``factor`` at the given epochs (0-based), as in Zhang & Schaeffer (2020)."""

    def __init__(self, lr: float, milestones: Sequence[int], factor: float = 0.1):
        self.lr = _positive("lr", lr)
        self.milestones = sorted(int(m) for m in milestones)
        self.factor = _positive("factor", factor)

    def __call__(self, epoch: int) -> float:
        passed = sum(epoch >= m for m in self.milestones)
        return self.lr * self.factor**passed


class Cosine:
    """Cosine annealing from lr to min_lr over ``epochs`` epochs."""

    def __init__(self, lr: float, epochs: int, min_lr: float = 0.0):
        self.lr, self.epochs, self.min_lr = _positive("lr", lr), int(epochs), float(min_lr)

    def __call__(self, epoch: int) -> float:
        t = min(epoch, self.epochs) / max(self.epochs, 1)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * t))


def make_schedule(lr, default: float):
    """A float (constant), None (the optimiser's default) or a callable epoch -> lr."""
    if lr is None:
        return Constant(default)
    if callable(lr):
        return lr
    return Constant(lr)


def _positive(name: str, value) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value
