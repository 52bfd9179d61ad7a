"""Built-in data sets, generated from a seed (no downloads), and loading user data.

Every generator returns ``(X, y)``: inputs of shape (n_samples, 2) in float64 and
integer class labels 0 / 1, the classes alternating so that any prefix is
balanced. For the state-space formulation of Veldman's lecture notes, map labels to
targets with :func:`lecture_targets`.
"""

from __future__ import annotations

import csv
import os

import numpy as np

__all__ = [
    "GENERATORS",
    "LECTURE_TARGETS",
    "circles",
    "lecture",
    "lecture_targets",
    "load_data",
    "moons",
    "rings",
    "spirals",
]

#: State-space targets of the two classes in Veldman's neural-ODE lecture notes.
LECTURE_TARGETS = np.array([[0.0, 1.0], [2.0, 1.0]])


def _start(n_samples: int, seed):
    if int(n_samples) != n_samples or n_samples < 0:
        raise ValueError(f"n_samples must be an integer >= 0, got {n_samples}")
    return np.random.default_rng(seed), np.arange(int(n_samples)) % 2


def rings(n_samples: int = 500, *, a: float = 0.5, b: float = 0.7, seed: int | None = 0):
    """The ring data of Andreu (2020): class 0 fills the disk of radius ``a``,
    class 1 the annulus from ``b`` to 1, both uniform in area.

    No homeomorphism of the plane separates them, so a ResNet-ODE needs dim >= 3
    (an augmented neural ODE) to reach full accuracy.
    """
    if not 0 < a <= b < 1:
        raise ValueError(f"need 0 < a <= b < 1, got a={a}, b={b}")
    rng, y = _start(n_samples, seed)
    lo = np.where(y == 0, 0.0, b)
    hi = np.where(y == 0, a, 1.0)
    radius = np.sqrt(rng.uniform(lo**2, hi**2))
    angle = rng.uniform(0.0, 2 * np.pi, len(y))
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]), y


def lecture(n_samples: int = 200, *, seed: int | None = 0):
    """The two-class example of Veldman's neural-ODE lecture notes.

    The lecture shows the points but does not give them, so the inputs here are
    our choice: points uniform in [-1, 1]^2, class 1 above the curve
    x2 = 0.5 sin(pi x1) and class 0 below it. The lecture's targets are the
    states (0, 1) for class 0 and (2, 1) for class 1 (:func:`lecture_targets`).
    """
    rng, _ = _start(n_samples, seed)
    X = rng.uniform(-1.0, 1.0, size=(int(n_samples), 2))
    y = (X[:, 1] > 0.5 * np.sin(np.pi * X[:, 0])).astype(np.int64)
    return X, y


def lecture_targets(labels) -> np.ndarray:
    """The lecture's state targets: (0, 1) for class 0 and (2, 1) for class 1."""
    return LECTURE_TARGETS[np.asarray(labels, dtype=np.int64)]


def moons(n_samples: int = 500, *, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles (as scikit-learn's make_moons), with Gaussian noise."""
    rng, y = _start(n_samples, seed)
    t = rng.uniform(0.0, np.pi, len(y))
    X = np.where(
        y[:, None] == 0,
        np.column_stack([np.cos(t), np.sin(t)]),
        np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)]),
    )
    return X + noise * rng.normal(size=X.shape), y


def spirals(n_samples: int = 500, *, turns: float = 1.5, noise: float = 0.05, seed: int | None = 0):
    """Two interleaved Archimedean spirals, the second the first rotated by pi."""
    rng, y = _start(n_samples, seed)
    r = np.sqrt(rng.uniform(0.02, 1.0, len(y)))  # denser towards the outside
    angle = 2 * np.pi * turns * r + np.pi * y
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    return X + noise * rng.normal(size=X.shape), y


def circles(
    n_samples: int = 500, *, factor: float = 0.5, noise: float = 0.05, seed: int | None = 0
):
    """Two concentric circles of radii 1 (class 0) and ``factor`` (class 1)."""
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    rng, y = _start(n_samples, seed)
    angle = rng.uniform(0.0, 2 * np.pi, len(y))
    radius = np.where(y == 0, 1.0, factor)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X + noise * rng.normal(size=X.shape), y


#: The generators by name, as the command line knows them.
GENERATORS = {
    "rings": rings,
    "lecture": lecture,
    "moons": moons,
    "spirals": spirals,
    "circles": circles,
}


def load_data(path: str | os.PathLike, *, target: int | str | None = -1):
    """Inputs and targets from a user's file.

    - ``.npz``: arrays ``X`` and ``y`` (or ``Y``); loaded without pickle.
    - ``.csv``: numbers separated by commas, with an optional header row; the
      column ``target`` (an index, or a header name; default the last column)
      holds the targets, the others the inputs. ``target=None`` reads inputs only.

    Returns ``(X, y)`` with X in float64 and y as integers when all its values are
    integral (class labels), else float64; y is None when the file has none.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        X, y = _load_npz(path)
    elif ext in (".csv", ".txt"):
        X, y = _load_csv(path, target)
    else:
        raise ValueError(f"{path}: unsupported file type {ext!r} (use .npz or .csv)")
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ValueError(f"{path}: inputs must be a finite 2-D table, got shape {X.shape}")
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: {len(X)} input rows but {len(y)} targets")
    return X, y


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            if "X" not in data.files:
                raise ValueError(f"{path}: no array named 'X' (found {data.files})")
            X = np.asarray(data["X"], dtype=np.float64)
            key = next((k for k in ("y", "Y") if k in data.files), None)
            y = None if key is None else _targets(np.asarray(data[key]))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    return X, y


def _load_csv(path, target):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: empty file")
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    try:
        table = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric table: {exc}") from None
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError(f"{path}: rows of unequal length or no data rows")
    if target is None:
        return table, None
    if isinstance(target, str):
        if header is None or target not in header:
            raise ValueError(f"{path}: no column named {target!r} (header: {header})")
        target = header.index(target)
    ncol = table.shape[1]
    if not -ncol <= target < ncol:
        raise ValueError(f"{path}: target column {target} out of range for {ncol} columns")
    col = target % ncol
    return np.delete(table, col, axis=1), _targets(table[:, col])


def _targets(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    y = np.asarray(y, dtype=np.float64)
    if np.isfinite(y).all() and np.array_equal(y, np.round(y)):
        return y.astype(np.int64)
    return y
