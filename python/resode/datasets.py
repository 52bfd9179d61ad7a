"""Built-in data sets, generated from a seed (no downloads)."""

from __future__ import annotations

import numpy as np

__all__ = ["LECTURE_TARGETS", "lecture_targets", "rings"]

#: State-space targets of the two classes in the neural-ODE lecture (seed 004).
LECTURE_TARGETS = np.array([[0.0, 1.0], [2.0, 1.0]])


def rings(n_samples: int = 500, *, a: float = 0.5, b: float = 0.7, seed: int | None = 0):
    """Two classes in the plane (thesis, seed 003): class 0 fills the disk of
    radius ``a``, class 1 the annulus from ``b`` to 1, each uniform in area.

    Returns ``(X, labels)`` with X of shape (n_samples, 2) and integer labels.
    """
    if not 0 < a <= b < 1:
        raise ValueError(f"need 0 < a <= b < 1, got a={a}, b={b}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % 2
    lo = np.where(labels == 0, 0.0, b)
    hi = np.where(labels == 0, a, 1.0)
    radius = np.sqrt(rng.uniform(lo**2, hi**2))
    angle = rng.uniform(0.0, 2 * np.pi, n_samples)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, labels


def lecture_targets(labels) -> np.ndarray:
    """The lecture's state targets: (0, 1) for class 0 and (2, 1) for class 1."""
    return LECTURE_TARGETS[np.asarray(labels, dtype=np.int64)]
