"""Plots of ResNet-ODE models: trajectories, decision regions, grid deformation, training
curves, the feature-norm experiment of Andreu (2020), the stability analysis of
:mod:`resode.analysis` (feature growth, input sensitivity and their bounds, one-sided
Lipschitz constants) and the depth studies of :mod:`resode.depth` (loss and accuracy
against depth, convergence as L grows with T fixed, multilevel training).

matplotlib is an optional extra (``pip install 'resode[plot]'``); it is imported only
when a plot is drawn. Every function builds a :class:`matplotlib.figure.Figure` with the
object-oriented API (no pyplot, no global state), so it works headless and from several
threads at once. Every function returns the Figure and, given ``save``, writes it to that
path (PNG unless the file name asks for another format) at ``dpi`` dots per inch.

In the axis labels, ``x[j]`` is coordinate j of the state and ``k`` a layer index:
``k = 0`` is the input ``x_1 = x_in`` and ``k = L`` the final state ``x_{L+1}``
(the 0-based ``trajectory[k]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from . import _validation as v
from .model import CLASSIFIER_HEADS, ResNetODE

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "convergence",
    "decision_regions",
    "depth_study",
    "feature_norm_curves",
    "feature_norms",
    "grid_deformation",
    "lipschitz",
    "multilevel",
    "stability",
    "training_curves",
    "trajectories",
]

PathLike = str | os.PathLike
DPI = 150
_IMPORT_ERROR = "resode.plot needs matplotlib: pip install 'resode[plot]'"


# -- helpers --------------------------------------------------------------------------------


def _mpl():
    """The matplotlib package, imported on first use."""
    try:
        import matplotlib
        import matplotlib.figure
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError as exc:
        raise ImportError(_IMPORT_ERROR) from exc
    return matplotlib


def _figure(figsize: tuple[float, float]) -> Figure:
    """A new Figure with an Agg canvas (renders without a display)."""
    mpl = _mpl()
    fig = mpl.figure.Figure(figsize=figsize, layout="constrained")
    mpl.backends.backend_agg.FigureCanvasAgg(fig)
    return fig


def _figure_of(ax: Axes) -> Figure:
    """The figure that ax draws in (a SubFigure when ax lies in one)."""
    return cast("Figure", ax.figure)


def _finish(fig: Figure, save: PathLike | None, dpi: float) -> Figure:
    if save is not None:
        fig.savefig(save, dpi=dpi)
    return fig


def _palette(n: int) -> list[tuple[float, float, float]]:
    """n distinguishable colours: tab10, tab20, or samples of viridis beyond 20."""
    mpl = _mpl()
    if n <= 10:
        return [tuple(c) for c in mpl.colormaps["tab10"].colors[:n]]
    if n <= 20:
        return [tuple(c) for c in mpl.colormaps["tab20"].colors[:n]]
    cmap = mpl.colormaps["viridis"]
    return [tuple(cmap(t)[:3]) for t in np.linspace(0.0, 1.0, n)]


def _lighten(color, amount: float = 0.6) -> tuple[float, float, float]:
    rgb = np.asarray(_mpl().colors.to_rgb(color))
    return tuple(rgb + amount * (1.0 - rgb))


def _as_samples(name: str, X: Any) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, n_features), got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} has no samples to plot")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains non-finite values (inf or NaN)")
    return arr


def _categories(labels: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, code of each sample); 2-D labels (e.g. state targets) by rows."""
    lab = np.asarray(labels)
    if lab.ndim not in (1, 2) or len(lab) != n:
        raise ValueError(
            f"labels must have one entry (or one target row) per sample, i.e. shape ({n},) "
            f"or ({n}, m); got shape {lab.shape}"
        )
    if lab.ndim == 1:
        return np.unique(lab, return_inverse=True)
    values, codes = np.unique(lab, axis=0, return_inverse=True)
    return values, codes.reshape(-1)


def _check_dims(dims: Any, dim: int, lengths: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in dims)
    except (TypeError, ValueError):
        raise TypeError(f"dims must be a sequence of integers, got {dims!r}") from None
    if len(out) not in lengths:
        raise ValueError(f"dims must have {' or '.join(map(str, lengths))} entries, got {dims!r}")
    if len(set(out)) != len(out) or any(not 0 <= d < dim for d in out):
        raise ValueError(f"dims must be distinct state coordinates in [0, {dim}), got {dims!r}")
    return out


def _class_legend(
    ax: Axes, names: Sequence[Any] | np.ndarray, colors: Sequence[Any], extra=()
) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=c, marker="o", linestyle="", label=f"class {value}")
        for value, c in zip(names, colors, strict=True)
    ]
    handles.extend(extra)
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)


def _coord(j: int) -> str:
    return f"x[{j}]"


# -- 1. trajectories ------------------------------------------------------------------------


def trajectories(
    model: ResNetODE,
    X: Any,
    labels: Any = None,
    *,
    dims: Sequence[int] = (0, 1),
    max_samples: int | None = 200,
    ax: Axes | None = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """The paths of samples through the layers, ``x_1 = x_in, x_2, ..., x_{L+1}``.

    Each sample is drawn as a polyline through its states after every layer
    (``model.trajectory``), projected on the state coordinates ``dims``; a hollow
    circle marks the input and a filled circle the final state. Lines are coloured by
    label, so one sees how the flow moves the classes apart (or does not).

    Parameters
    ----------
    model : ResNetODE
        The network; inputs with fewer features than ``model.dim`` are zero-padded.
    X : array_like, shape (N, n_features)
        Inputs.
    labels : array_like, shape (N,) or (N, m), optional
        Class of each sample (any values), or target rows (one colour per distinct row).
    dims : sequence of 2 or 3 ints
        State coordinates to show: two give a planar plot, three a 3-D plot.
    max_samples : int or None
        At most this many samples are drawn (a fixed random subset); None draws all.
    ax : matplotlib Axes, optional
        Draw into this Axes (a ``projection="3d"`` one for three ``dims``) instead of
        a new figure.
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    dims = _check_dims(dims, model.dim, (2, 3))
    X = _as_samples("X", X)
    n = len(X)
    names, codes = (None, np.zeros(n, dtype=np.int64)) if labels is None else _categories(labels, n)
    if max_samples is not None:
        max_samples = v.integer("max_samples", max_samples)
        if n > max_samples:
            keep = np.sort(np.random.default_rng(0).choice(n, max_samples, replace=False))
            X, codes = X[keep], codes[keep]
    traj = model.trajectory(X)  # (L+1, n, dim)
    paths = np.ascontiguousarray(traj[:, :, list(dims)].transpose(1, 0, 2), dtype=np.float64)
    colors = ["C0"] if names is None else _palette(len(names))
    line_colors = [colors[c] for c in codes]

    three_d = len(dims) == 3
    if ax is None:
        fig = _figure((6.0, 5.5) if three_d else (6.0, 5.0))
        ax = fig.add_subplot(projection="3d" if three_d else None)
    else:
        fig = _figure_of(ax)
        if three_d and getattr(ax, "name", "") != "3d":
            raise ValueError("three dims need a 3-D Axes (projection='3d')")

    start, end = paths[:, 0], paths[:, -1]
    if three_d:
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        ax3d: Any = ax  # an Axes3D (mpl_toolkits has no type information)
        ax3d.add_collection3d(
            Line3DCollection(paths, colors=line_colors, linewidths=0.7, alpha=0.6)
        )
        ax3d.scatter(*start.T, facecolors="none", edgecolors=line_colors, s=14, linewidths=0.8)
        ax3d.scatter(*end.T, c=line_colors, s=14, edgecolors="k", linewidths=0.3)
        pts = paths.reshape(-1, 3)
        ax3d.auto_scale_xyz(pts[:, 0], pts[:, 1], pts[:, 2])
        ax3d.set_zlabel(_coord(dims[2]))
    else:
        from matplotlib.collections import LineCollection

        segments = list(paths)  # one (L+1, 2) polyline per sample
        ax.add_collection(LineCollection(segments, colors=line_colors, linewidths=0.7, alpha=0.6))
        ax.scatter(
            start[:, 0],
            start[:, 1],
            facecolors="none",
            edgecolors=line_colors,
            s=14,
            linewidths=0.8,
        )
        ax.scatter(
            end[:, 0], end[:, 1], c=line_colors, s=14, edgecolors="k", linewidths=0.3, zorder=3
        )
        ax.autoscale_view()
    ax.set_xlabel(_coord(dims[0]))
    ax.set_ylabel(_coord(dims[1]))
    ax.set_title(f"Trajectories through L={model.n_layers} layers (T={model.T:g})")

    from matplotlib.lines import Line2D

    markers = [
        Line2D([], [], color="0.3", marker="o", markerfacecolor="none", ls="", label="input"),
        Line2D([], [], color="0.3", marker="o", ls="", label="final state"),
    ]
    if names is None:
        _class_legend(ax, [], [], markers)
    else:
        _class_legend(ax, names, colors, markers)
    return _finish(fig, save, dpi)


# -- 2. decision regions --------------------------------------------------------------------


def _distinct_rows(targets: np.ndarray) -> np.ndarray:
    """Distinct rows in order of first appearance."""
    _, first = np.unique(targets, axis=0, return_index=True)
    return targets[np.sort(first)]


def decision_regions(
    model: ResNetODE,
    X: Any,
    y: Any = None,
    *,
    targets: Any = None,
    resolution: int = 200,
    margin: float = 0.2,
    levels: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
    ax: Axes | None = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """The classes the model assigns to the points of the input plane, with level sets.

    A grid of ``resolution x resolution`` points covering the data (enlarged by
    ``margin`` times the data range on every side) is pushed through the network. The
    background shows the predicted class; black lines are level sets of the class-1
    score, the 0.5 level (bold) being the decision boundary; the data are drawn on top,
    coloured by their true class. Models with ``dim > 2`` see the plane zero-padded
    (an augmented neural ODE), so a ``dim=3`` model trained on 2-D data works.

    The score is

    - ``softmax`` / ``logistic`` heads: ``predict_proba(x)[:, 1]``, the probability of
      class 1 (with more than two classes: the probability of the predicted class);
    - ``state`` head: the class is the nearest distinct row of ``targets`` to the final
      state ``x_{L+1}``; with two target rows the score is ``d_0 / (d_0 + d_1)``, the
      relative distance to target 0 (0 on target 0, 1 on target 1, 0.5 on the boundary).
      With more target rows no level sets are drawn.

    Parameters
    ----------
    model : ResNetODE
        A model with a ``softmax``, ``logistic`` or ``state`` head. The ``linear`` head
        has no classes and raises ValueError.
    X : array_like, shape (N, 2)
        Inputs with exactly two features.
    y : array_like, optional
        Classifier heads: integer labels (N,). ``state`` head: target rows (N, dim)
        (then ``targets`` defaults to them), or integer labels (N,) where label j means
        the j-th distinct row of ``targets``. None draws the data in one colour.
    targets : array_like, shape (n, dim), optional
        ``state`` head only: the target points of the classes in the state space (for
        instance ``datasets.LECTURE_TARGETS`` or the rows of the training targets);
        distinct rows are taken in order of first appearance.
    resolution : int
        Grid points per axis.
    margin : float
        Extra room around the data, as a fraction of the data range.
    levels : sequence of float
        Score levels to draw (those outside the score's range are skipped).
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a ``linear`` head, a ``state`` head without targets, X without exactly two
        features, or labels that do not fit.
    """
    _mpl()
    head = model.head
    if head not in (*CLASSIFIER_HEADS, "state"):
        raise ValueError(
            f"decision_regions needs a classifier head ('softmax', 'logistic') or "
            f"head='state' with targets; head={head!r} has no classes"
        )
    X = _as_samples("X", X)
    if X.shape[1] != 2:
        raise ValueError(
            f"decision_regions draws the input plane: X must have exactly 2 features, "
            f"got {X.shape[1]}"
        )
    if not model.has_opening and model.dim < 2:
        raise ValueError(f"decision_regions needs a model with dim >= 2, got dim={model.dim}")
    resolution = v.integer("resolution", resolution, 2)
    margin = float(margin)
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be finite and >= 0, got {margin}")
    n = len(X)
    y_arr = None if y is None else np.asarray(y)

    if head in CLASSIFIER_HEADS:
        if targets is not None:
            raise ValueError(f"targets applies only to head='state', not head={head!r}")
        n_classes = model.n_classes
        assert n_classes is not None  # set for the classifier heads
        codes = None if y_arr is None else _int_labels(y_arr, n, n_classes)

        def evaluate(G):
            P = model.predict_proba(G)
            score = P[:, 1] if n_classes == 2 else P.max(axis=1)
            return np.argmax(P, axis=1), score

        score_name = "P(class 1)" if n_classes == 2 else "max class probability"
    else:
        if targets is None:
            if y_arr is None or y_arr.ndim != 2:
                raise ValueError(
                    "head='state' has no classes of its own: pass targets (the class target "
                    "points in the state space, e.g. datasets.LECTURE_TARGETS) or y as "
                    "target rows (N, dim)"
                )
            targets = y_arr
        T_arr = np.asarray(targets, dtype=np.float64)
        if T_arr.ndim != 2 or T_arr.shape[1] != model.dim or not np.isfinite(T_arr).all():
            raise ValueError(
                f"targets must be finite state-space rows of shape (n, {model.dim}), "
                f"got shape {T_arr.shape}"
            )
        centres = _distinct_rows(T_arr)
        n_classes = len(centres)
        if n_classes < 2:
            raise ValueError("targets must contain at least 2 distinct rows (one per class)")
        if y_arr is None:
            codes = None
        elif y_arr.ndim == 1:
            codes = _int_labels(y_arr, n, n_classes)
        elif y_arr.shape == (n, model.dim):
            codes = _nearest(np.asarray(y_arr, dtype=np.float64), centres)[0]
        else:
            raise ValueError(
                f"y must be labels ({n},) or target rows ({n}, {model.dim}), got {y_arr.shape}"
            )

        def evaluate(G):
            cls, dist = _nearest(model.forward(G), centres)
            score = dist[:, 0] / (dist[:, 0] + dist[:, 1]) if n_classes == 2 else None
            return cls, score

        score_name = r"$d_0 / (d_0 + d_1)$,  $d_j = |x_{L+1} - t_j|$"

    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    gx = np.linspace(lo[0], hi[0], resolution)
    gy = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    cls, score = evaluate(np.column_stack([xx.ravel(), yy.ravel()]))

    mpl = _mpl()
    if ax is None:
        fig = _figure((6.0, 5.0))
        ax = fig.add_subplot()
    else:
        fig = _figure_of(ax)
    colors = _palette(n_classes)
    ax.imshow(
        cls.reshape(resolution, resolution),
        origin="lower",
        extent=(lo[0], hi[0], lo[1], hi[1]),
        cmap=mpl.colors.ListedColormap([_lighten(c) for c in colors]),
        vmin=-0.5,
        vmax=n_classes - 0.5,
        interpolation="nearest",
        aspect="auto",
    )
    if score is not None:
        s = score.reshape(resolution, resolution)
        shown = sorted(float(lv) for lv in levels if s.min() < lv < s.max())
        if shown:
            widths = [1.8 if abs(lv - 0.5) < 1e-9 else 0.7 for lv in shown]
            cs = ax.contour(gx, gy, s, levels=shown, colors="k", linewidths=widths)
            ax.clabel(cs, fmt="%.2g", fontsize=7)
    if codes is None:
        ax.scatter(X[:, 0], X[:, 1], c="k", s=10)
    else:
        for j in range(n_classes):
            sel = codes == j
            ax.scatter(X[sel, 0], X[sel, 1], color=colors[j], s=12, edgecolors="k", lw=0.3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(_coord(0))
    ax.set_ylabel(_coord(1))
    padded = model.dim > 2 and not model.has_opening
    pad = f", inputs zero-padded to dim={model.dim}" if padded else ""
    ax.set_title(f"Decision regions, head={head}{pad}\nlevel sets of {score_name}", fontsize=10)
    _class_legend(ax, range(n_classes), colors)
    return _finish(fig, save, dpi)


def _int_labels(y: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    if y.shape != (n,):
        raise ValueError(f"y must be labels of shape ({n},), got shape {y.shape}")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    codes = y.astype(np.int64)
    if len(codes) and (codes.min() < 0 or codes.max() >= n_classes):
        raise ValueError(
            f"y must hold labels in [0, {n_classes}), got {codes.min()}..{codes.max()}"
        )
    return codes


def _nearest(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre and the distances to all centres."""
    dist = np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    return np.argmin(dist, axis=1), dist


# -- 3. grid deformation --------------------------------------------------------------------


def grid_deformation(
    model: ResNetODE,
    *,
    bounds: Sequence[float] = (-1.5, 1.5, -1.5, 1.5),
    n_lines: int = 21,
    points_per_line: int = 200,
    dims: Sequence[int] = (0, 1),
    X: Any = None,
    labels: Any = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """A grid in the input plane and its image under the flow map ``x_in -> x_{L+1}``.

    Left: ``n_lines`` vertical (grey) and ``n_lines`` horizontal (olive) lines covering
    ``bounds`` in the plane of the state coordinates ``dims`` (the other coordinates
    zero, as for zero-padded inputs), with the data ``X`` if given. Right: the same
    lines after the network (``model.forward``), projected on ``dims``, with the data's
    final states. How the lines bend, stretch and fold shows how the network deforms
    space to separate the classes (Andreu 2020, appendix D). For a 2-D model with a
    two-class head the separating line of the head, where the two logits are equal, is
    drawn dashed on the right.

    Parameters
    ----------
    model : ResNetODE
        The network (``dim >= 2``).
    bounds : (xmin, xmax, ymin, ymax)
        The input rectangle covered by the grid.
    n_lines : int
        Lines per direction.
    points_per_line : int
        Points along each line (the resolution of the bent images).
    dims : two ints
        The state coordinates spanning the input plane, and shown in both panels.
    X : array_like, shape (N, n_features), optional
        Data to draw on both panels (zero-padded to ``model.dim``).
    labels : array_like, shape (N,) or (N, m), optional
        Colours of the data (needs X).
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from matplotlib.collections import LineCollection

    if model.dim < 2:
        raise ValueError(f"grid_deformation needs a model with dim >= 2, got dim={model.dim}")
    dims = _check_dims(dims, model.dim, (2,))
    try:
        x0, x1, y0, y1 = (float(edge) for edge in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax), got {bounds!r}") from None
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ValueError(f"bounds must be finite with xmin < xmax and ymin < ymax, got {bounds}")
    n_lines = v.integer("n_lines", n_lines, 2)
    ppl = v.integer("points_per_line", points_per_line, 2)
    if labels is not None and X is None:
        raise ValueError("labels need X (the data to colour)")

    ax_pos, ay_pos = np.linspace(x0, x1, n_lines), np.linspace(y0, y1, n_lines)
    tx, ty = np.linspace(x0, x1, ppl), np.linspace(y0, y1, ppl)
    vertical = np.stack(
        [np.broadcast_to(ax_pos[:, None], (n_lines, ppl)), np.broadcast_to(ty, (n_lines, ppl))],
        axis=-1,
    )
    horizontal = np.stack(
        [np.broadcast_to(tx, (n_lines, ppl)), np.broadcast_to(ay_pos[:, None], (n_lines, ppl))],
        axis=-1,
    )
    lines = np.concatenate([vertical, horizontal])  # (2 n_lines, ppl, 2)
    P = np.zeros((lines.shape[0] * ppl, model.dim))
    P[:, list(dims)] = lines.reshape(-1, 2)
    image = model.flow(P)[:, list(dims)].astype(np.float64).reshape(lines.shape)
    line_colors = ["0.45"] * n_lines + ["tab:olive"] * n_lines

    fig = _figure((11.0, 5.0))
    left, right = fig.subplots(1, 2)
    for ax, segs in ((left, lines), (right, image)):
        ax.add_collection(LineCollection(list(segs), colors=line_colors, linewidths=0.6, alpha=0.8))
        ax.autoscale_view()

    names: Sequence[Any] | np.ndarray = []
    colors: list[Any] = []
    if X is not None:
        Xin = model.initial_states(_as_samples("X", X))
        Xout = model.flow(Xin)
        pt_colors: str | list[Any]
        if labels is None:
            pt_colors = "k"
        else:
            names, codes = _categories(labels, len(Xin))
            colors = _palette(len(names))
            pt_colors = [colors[c] for c in codes]
        for ax, pts in ((left, Xin), (right, Xout)):
            pts = np.asarray(pts, dtype=np.float64)[:, list(dims)]
            ax.scatter(pts[:, 0], pts[:, 1], c=pt_colors, s=10, edgecolors="k", lw=0.3, zorder=3)

    boundary = _head_boundary(model)
    line = None if boundary is None else _draw_line(right, *boundary)
    extra = [] if line is None else [line]
    if len(names) or extra:
        _class_legend(right, names, colors, extra)

    for ax in (left, right):
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(_coord(dims[0]))
        ax.set_ylabel(_coord(dims[1]))
    left.set_title(r"input grid  $x_\mathrm{in}$")
    right.set_title(rf"image under the flow map  $x_{{L+1}}$  (L={model.n_layers}, T={model.T:g})")
    return _finish(fig, save, dpi)


def _head_boundary(model: ResNetODE) -> tuple[np.ndarray, float] | None:
    """(w, c) with the two-class boundary w . x + c = 0 in the state space, for dim 2."""
    if model.dim != 2 or model.W is None:
        return None
    W, mu = np.asarray(model.W, np.float64), np.asarray(model.mu, np.float64)
    if model.head == "logistic":
        return W[0], float(mu[0])
    if model.head == "softmax" and model.n_classes == 2:
        return W[1] - W[0], float(mu[1] - mu[0])
    return None


def _draw_line(ax: Axes, w: np.ndarray, c: float):
    """The line w . x + c = 0 (an infinite axline: it does not change the view limits)."""
    norm2 = float(w @ w)
    if norm2 == 0:
        return None
    p = -c * w / norm2
    q = p + np.array([-w[1], w[0]])
    return ax.axline(
        (float(p[0]), float(p[1])),
        (float(q[0]), float(q[1])),
        color="k",
        ls="--",
        lw=1.2,
        label="head boundary",
    )


# -- 4. training curves ---------------------------------------------------------------------


def training_curves(
    history: Any,
    *,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """The loss (log scale) and, when recorded, the accuracy against the epoch.

    Left: the mean training cost ``J / N`` and, when validation data were given, the
    validation cost. Right (only if the history recorded accuracies, i.e. a classifier
    head): training and validation accuracy. A run that stopped early says why in the
    title.

    Parameters
    ----------
    history : resode.History or mapping
        What :meth:`ResNetODE.fit` returns, or a dict of lists with the same keys
        (``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()

    def get(key: str) -> np.ndarray:
        value = history.get(key) if isinstance(history, Mapping) else getattr(history, key, None)
        return np.asarray([] if value is None else list(value), dtype=np.float64)

    loss = get("loss")
    if loss.size == 0:
        raise ValueError("history has no recorded epochs (empty 'loss')")
    epoch = get("epoch")
    if epoch.size == 0:
        epoch = np.arange(1, loss.size + 1, dtype=np.float64)
    series = {k: get(k) for k in ("loss", "val_loss", "accuracy", "val_accuracy")}
    for key, values in series.items():
        if values.size not in (0, epoch.size):
            raise ValueError(
                f"history.{key} has {values.size} entries but history.epoch has {epoch.size}"
            )
    has_acc = series["accuracy"].size > 0 or series["val_accuracy"].size > 0
    fig = _figure((11.0, 4.2) if has_acc else (6.0, 4.2))
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    marker = "o" if epoch.size < 2 else None
    panels = [(axes[0], "loss", "mean cost J / N")]
    if has_acc:
        panels.append((axes[1], "accuracy", "accuracy"))
    for ax, key, ylabel in panels:
        for name, label in ((key, "training"), (f"val_{key}", "validation")):
            if series[name].size:
                ax.plot(epoch, series[name], marker=marker, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    losses = np.concatenate([series["loss"], series["val_loss"]])
    if np.all(losses[np.isfinite(losses)] > 0):
        axes[0].set_yscale("log")
    stop = getattr(history, "stop_reason", "completed")
    title = "Training" if stop in (None, "completed") else f"Training (stopped: {stop})"
    fig.suptitle(title)
    return _finish(fig, save, dpi)


# -- 5. feature norms over random initialisations (Andreu 2020) ----------------------------


def feature_norm_curves(
    dim: int,
    n_layers: int,
    *,
    n_inits: int = 50,
    init: str = "uniform",
    init_scales: Sequence[float] = (0.5, 1.0, 2.0),
    X: Any = None,
    n_samples: int = 100,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    T: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Mean feature norms ``mean_i |x_k^i|`` per layer for random initialisations.

    The experiment of Andreu (2020, figures 8.3-8.5): for each scale gamma in
    ``init_scales`` draw ``n_inits`` untrained networks
    ``ResNetODE(dim, n_layers, T=T, form=form, activation=activation, head="state",
    init=init, init_scale=gamma, seed=seed + 1 + j)`` for ``j = 0 .. n_inits - 1``, push
    the same inputs through each and record, after every layer, the Euclidean norm of
    the state averaged over the samples.

    Initialisation j uses the same seed for every scale (common random numbers): with
    ``init='uniform'`` or ``'normal'`` the parameters at two scales differ only by the
    factor, so the curves isolate the effect of the scale.

    Parameters
    ----------
    dim, n_layers : int
        State dimension d and number of layers L.
    n_inits : int
        Random initialisations per scale.
    init : {'uniform', 'normal', 'zeros'}
        Uniform in [-gamma, gamma] (as in the thesis) or normal with standard deviation
        gamma; see :meth:`ResNetODE.initialize`.
    init_scales : sequence of float
        The scales gamma compared.
    X : array_like, shape (N, n_features <= dim), optional
        Inputs (zero-padded to ``dim``). Default: ``n_samples`` standard normal
        samples drawn with ``np.random.default_rng(seed)``.
    n_samples : int
        Number of random inputs when X is not given.
    form, activation, gamma :
        The vector field (docs/mathematics.md).
    T : float, optional
        Final time. The default ``T = n_layers`` gives step ``h = 1``, the plain
        ResNet ``x_{k+1} = x_k + f_k(x_k)`` studied in the thesis, where every layer
        adds its residual at full weight. (With a fixed T, h = T / L shrinks as L grows
        and the norms stay bounded by the continuous flow instead.)
    seed : int
        Seed of the inputs; initialisation j uses ``seed + 1 + j``.

    Returns
    -------
    numpy.ndarray, shape (len(init_scales), n_inits, n_layers + 1)
        ``norms[s, j, k]``: mean over samples of ``|x_k|`` for scale s and
        initialisation j, ``k = 0`` being the input and ``k = L`` the final state.
    """
    dim = v.integer("dim", dim)
    n_layers = v.integer("n_layers", n_layers)
    n_inits = v.integer("n_inits", n_inits)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    scales = np.asarray(init_scales, dtype=np.float64).reshape(-1)
    if scales.size == 0 or not np.isfinite(scales).all() or (scales < 0).any():
        raise ValueError(f"init_scales must be finite values >= 0, got {init_scales!r}")
    if X is None:
        n_samples = v.integer("n_samples", n_samples)
        X = np.random.default_rng(seed).standard_normal((n_samples, dim))
    T = float(n_layers) if T is None else T
    model = ResNetODE(
        dim, n_layers, T=T, form=form, activation=activation, gamma=gamma, head="state", seed=0
    )
    X = model.prepare_inputs(_as_samples("X", X))
    norms = np.empty((scales.size, n_inits, n_layers + 1))
    for s, scale in enumerate(scales):
        for j in range(n_inits):
            model.initialize(init, init_scale=float(scale), seed=int(seed) + 1 + j)
            traj = model.trajectory(X)  # (L+1, N, dim)
            norms[s, j] = np.linalg.norm(traj, axis=2).mean(axis=1)
    return norms


def feature_norms(
    dim: int,
    n_layers: int,
    *,
    n_inits: int = 50,
    init: str = "uniform",
    init_scales: Sequence[float] = (0.5, 1.0, 2.0),
    X: Any = None,
    n_samples: int = 100,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    T: float | None = None,
    seed: int = 0,
    ax: Axes | None = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """How the feature norm ``|x_k|`` evolves through the layers of untrained networks.

    For each initialisation scale gamma, the curve is the median over ``n_inits`` random
    initialisations of the mean norm of the state after layer k, and the band its
    interquartile range (25th to 75th percentile), on a log scale: Andreu's (2020)
    figures 8.3-8.5. Norms that blow up or collapse with depth show a badly scaled
    initialisation. The numbers are :func:`feature_norm_curves` with the same arguments
    (see there, including the default ``T = n_layers``, i.e. h = 1); they are also
    stored on the figure as ``fig.feature_norms`` (shape ``(len(init_scales), n_inits,
    n_layers + 1)``) with ``fig.init_scales``.

    Parameters
    ----------
    dim, n_layers, n_inits, init, init_scales, X, n_samples, form, activation, gamma, T, seed
        As in :func:`feature_norm_curves`.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    norms = feature_norm_curves(
        dim,
        n_layers,
        n_inits=n_inits,
        init=init,
        init_scales=init_scales,
        X=X,
        n_samples=n_samples,
        form=form,
        activation=activation,
        gamma=gamma,
        T=T,
        seed=seed,
    )
    scales = np.asarray(init_scales, dtype=np.float64).reshape(-1)
    if ax is None:
        fig = _figure((6.5, 4.5))
        ax = fig.add_subplot()
    else:
        fig = _figure_of(ax)
    k = np.arange(n_layers + 1)
    colors = _palette(len(scales))
    for s, scale in enumerate(scales):
        q25, med, q75 = np.percentile(norms[s], [25, 50, 75], axis=0)
        ax.plot(
            k,
            med,
            color=colors[s],
            marker="o" if n_layers < 30 else None,
            ms=3,
            label=rf"$\gamma$ = {scale:g}",
        )
        if n_inits > 1:
            ax.fill_between(k, q25, q75, color=colors[s], alpha=0.2, lw=0)
    positive = norms[np.isfinite(norms) & (norms > 0)]
    if positive.size:
        ax.set_yscale("log")
        if positive.max() < 100 * positive.min():  # under two decades: label plainly
            plain = _mpl().ticker.FuncFormatter(lambda value, _: f"{value:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("layer k  (0 = input)")
    ax.set_ylabel(r"mean over samples of $|x_k|$")
    what = {
        "uniform": r"uniform in $[-\gamma, \gamma]$",
        "normal": r"normal, std $\gamma$",
        "zeros": "zeros",
    }
    h = (float(n_layers) if T is None else float(T)) / n_layers
    ax.set_title(
        f"Feature norms at initialisation ({what.get(init, init)})\n"
        f"d={dim}, L={n_layers}, h={h:g}, {form}/{activation}, median and IQR over "
        f"{n_inits} inits",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    # the data drawn, for the caller
    fig.feature_norms = norms  # type: ignore[attr-defined]
    fig.init_scales = scales  # type: ignore[attr-defined]
    return _finish(fig, save, dpi)


# -- 6. stability analysis (resode.analysis) --------------------------------------------------


def _band(ax: Axes, t: np.ndarray, values: np.ndarray, color, label: str) -> None:
    """Median over samples (line), max (thin line) and the 10-90 % band of (L+1, N) values."""
    if values.shape[1] == 0:
        return
    q10, med, q90 = np.percentile(values, [10, 50, 90], axis=1)
    marker = "o" if len(t) < 30 else None
    ax.plot(t, med, color=color, marker=marker, ms=3, label=f"{label}: median")
    ax.plot(t, values.max(axis=1), color=color, lw=0.8, ls=":", label=f"{label}: max")
    if values.shape[1] > 1:
        ax.fill_between(t, q10, q90, color=color, alpha=0.2, lw=0, label="10-90 % of samples")


def _bound_lines(ax: Axes, t: np.ndarray, discrete: np.ndarray, exp: np.ndarray) -> None:
    ax.plot(t, discrete, color="k", ls="--", lw=1.2, label="bound (Euler steps)")
    ax.plot(t, exp, color="0.5", ls="-.", lw=1.2, label="bound (exp form)")


def _log_if_positive(ax: Axes, *arrays: np.ndarray) -> None:
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size and np.all(values > 0):
        ax.set_yscale("log")


def lipschitz(
    result: Any,
    *,
    T: float | None = None,
    ax: Axes | None = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """The one-sided Lipschitz constant of each layer: the sampled estimate and the bound.

    ``result`` is what :func:`resode.analysis.one_sided_lipschitz` returns; the true
    constant of layer k lies between the estimate (filled markers) and the bound (open
    markers). Below the zero line a layer's flow contracts (Celledoni et al. 2021, section 2.1).

    Parameters
    ----------
    result : resode.analysis.OneSidedLipschitz
    T : float, optional
        Final time: with it the x axis is the time ``t_k = k T / L`` of the layer's
        interval start; without it, the layer index k.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from .analysis import OneSidedLipschitz

    if not isinstance(result, OneSidedLipschitz):
        raise TypeError(
            "result must be a resode.analysis.OneSidedLipschitz (from "
            f"analysis.one_sided_lipschitz), got {type(result).__name__}"
        )
    L = len(result.estimate)
    x: np.ndarray
    if T is None:
        x, xlabel = np.arange(L), "layer k"
    else:
        T = v.real("T", T, positive=True)
        x, xlabel = T / L * np.arange(L), r"time $t_k$ (start of layer k)"
    if ax is None:
        fig = _figure((6.0, 4.2))
        ax = fig.add_subplot()
    else:
        fig = _figure_of(ax)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.step(x, result.bound, where="post", color="k", lw=0.8, alpha=0.5)
    ax.plot(x, result.bound, "o", mfc="none", mec="k", ms=5, label=r"bound (all $x, y$)")
    ax.plot(
        x,
        result.estimate,
        "o",
        color="tab:red",
        ms=4,
        label=f"estimate ({result.method}, {result.n_points} points)",
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"one-sided Lipschitz constant $\nu_k$")
    ax.set_title(r"$\langle f_k(x) - f_k(y), x - y\rangle \leq \nu_k |x - y|^2$", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, save, dpi)


def stability(
    model: Any,
    X: Any = None,
    *,
    norm: str = "spectral",
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """Measured feature growth and input sensitivity beside the bounds of Zhang & Schaeffer.

    Three panels over the time ``t_k = k h``: the feature norms ``|x_k|`` (median, max and
    10-90 % band over the samples) with the growth bounds for the largest input norm;
    the sensitivity ``sigma_max(d x_k / d x_in)`` with its bounds; and each layer's
    one-sided Lipschitz constant (:func:`lipschitz`). The numbers are
    :func:`resode.analysis.stability_report` (stored on the figure as ``fig.report``).

    Parameters
    ----------
    model : ResNetODE or resode.analysis.StabilityReport
        A model (then X is required) or a report already computed.
    X : array_like, shape (N, n_features), optional
        Inputs, for a model.
    norm : {'spectral', 'fro'}
        Matrix norm of the bounds (for a model).
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from .analysis import StabilityReport, stability_report

    if isinstance(model, StabilityReport):
        if X is not None:
            raise ValueError("X applies to a model; a StabilityReport has its data already")
        report = model
    else:
        if X is None:
            raise ValueError("stability(model, X) needs the inputs X")
        report = stability_report(model, _as_samples("X", X), norm=norm)
    t = report.t
    fig = _figure((15.0, 4.4))
    left, middle, right = fig.subplots(1, 3)
    _band(left, t, report.feature_norms, "tab:blue", r"$|x_k|$")
    gmax = report.growth_bound.max(axis=1)
    gexp = report.growth_bound_exp.max(axis=1)
    _bound_lines(left, t, gmax, gexp)
    _log_if_positive(left, report.feature_norms, gmax, gexp)
    left.set_ylabel(r"feature norm $|x_k|$")
    left.set_title("Growth of the features", fontsize=10)

    _band(middle, t, report.sensitivity, "tab:green", r"$\sigma_{max}(J_k)$")
    _bound_lines(middle, t, report.sensitivity_bound, report.sensitivity_bound_exp)
    _log_if_positive(middle, report.sensitivity, report.sensitivity_bound)
    middle.set_ylabel(r"$\sigma_{max}(\partial x_k / \partial x_{in})$")
    middle.set_title("Sensitivity to input perturbations", fontsize=10)
    for ax in (left, middle):
        ax.set_xlabel(r"time $t_k = k h$")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)

    lipschitz(report.lipschitz, T=float(t[-1]) if len(t) > 1 else None, ax=right)
    b = report.bounds
    fig.suptitle(
        f"Forward stability: L={b.n_layers}, h={b.h:g}, {b.form}/{b.activation}, "
        f"N={report.feature_norms.shape[1]} samples, norm={b.norm}",
        fontsize=11,
    )
    fig.report = report  # type: ignore[attr-defined]  # the data drawn, for the caller
    return _finish(fig, save, dpi)


# -- 7. depth: convergence in L, depth studies, multilevel training (resode.depth) ----------


def convergence(
    result: Any,
    *,
    ax: Axes | None = None,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """Errors of the discrete solution against the step h, log-log, with a slope-1 guide.

    ``result`` is what :func:`resode.depth.convergence` returns: the final-state error
    (mean and max over samples) and, when it was given targets, the cost error
    ``|J - J_ref| / N`` and the relative gradient error. Forward Euler converges with
    order 1: the curves run parallel to the dotted guide ``C h``.

    Parameters
    ----------
    result : resode.depth.Convergence
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from .depth import Convergence

    if not isinstance(result, Convergence):
        raise TypeError(
            "result must be a resode.depth.Convergence (from depth.convergence), got "
            f"{type(result).__name__}"
        )
    if ax is None:
        fig = _figure((6.0, 4.5))
        ax = fig.add_subplot()
    else:
        fig = _figure_of(ax)
    h = result.h
    series = [
        (result.state_error, r"$|x_{L+1} - x_\mathrm{ref}|$, mean", "tab:blue", "-"),
        (result.state_error_max, "  max over samples", "tab:blue", ":"),
    ]
    if result.loss_error is not None:
        assert result.grad_error is not None  # computed with loss_error
        series += [
            (result.loss_error, r"$|J - J_\mathrm{ref}| / N$", "tab:orange", "-"),
            (result.grad_error, "gradient, relative", "tab:green", "-"),
        ]
    drawn = []
    for values, label, color, ls in series:
        ok = np.isfinite(values) & (values > 0)
        if ok.any():
            ax.plot(h[ok], values[ok], marker="o", ms=4, color=color, ls=ls, label=label)
            drawn.append(values[ok])
    if drawn:
        ax.set_xscale("log")
        ax.set_yscale("log")
        top = max(float(d.max()) for d in drawn)
        guide = top * 1.5 * h / h.max()
        ax.plot(h, guide, color="0.4", ls="--", lw=0.8, label=r"slope 1 ($\propto h$)")
    ax.set_xlabel(r"step $h = T / L$")
    ax.set_ylabel("error against the reference")
    ax.set_title(
        f"Convergence as L grows, T={result.T:g} fixed (base L={result.base_layers}, "
        f"reference L={result.reference_layers})\nobserved order "
        f"{result.order('state'):.2f}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    return _finish(fig, save, dpi)


def depth_study(
    study: Any,
    *,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """Loss and accuracy against depth, and the convergence of the discrete solution.

    ``study`` is what :func:`resode.depth.depth_study` returns. Panels: the final mean
    cost J / N against the number of layers L (log2 axis; training and validation), the
    accuracy (classifier heads), and the convergence study (:func:`convergence`) when
    the study has one.

    Parameters
    ----------
    study : resode.depth.DepthStudy
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from .depth import DepthStudy

    if not isinstance(study, DepthStudy):
        raise TypeError(
            f"study must be a resode.depth.DepthStudy (from depth.depth_study), got "
            f"{type(study).__name__}"
        )
    if len(study.depths) == 0:
        raise ValueError("the study has no completed depth to plot")
    has_acc = bool(np.isfinite(study.accuracy).any() or np.isfinite(study.val_accuracy).any())
    panels = 1 + has_acc + (study.convergence is not None)
    fig = _figure((5.2 * panels, 4.3))
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    L = study.depths
    marker = {"marker": "o", "ms": 4}
    pairs = [(axes[0], study.loss, study.val_loss, "final mean cost J / N")]
    if has_acc:
        pairs.append((axes[1], study.accuracy, study.val_accuracy, "final accuracy"))
    for ax, train, val, ylabel in pairs:
        ax.plot(L, train, label="training", **marker)
        if np.isfinite(val).any():
            ax.plot(L, val, label="validation", **marker)
        ax.set_xscale("log", base=2)
        ax.set_xticks(L, [str(n) for n in L])
        ax.minorticks_off()
        ax.set_xlabel(f"layers L  (T = {study.T:g} fixed, h = T / L)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    how = "multilevel (warm start)" if study.warm_start else "each depth from scratch"
    axes[0].set_title(f"Depth study: {how}" + (" (interrupted)" if study.interrupted else ""))
    if study.convergence is not None:
        convergence(study.convergence, ax=axes[-1])
    return _finish(fig, save, dpi)


def multilevel(
    result: Any,
    *,
    save: PathLike | None = None,
    dpi: float = DPI,
) -> Figure:
    """Training curves of multilevel training, levels one after the other.

    ``result`` is what :func:`resode.depth.multilevel_fit` returns. The mean cost J / N
    (log scale) and, when recorded, the accuracy against the cumulative epoch; a dotted
    vertical line marks each prolongation, labelled with the new number of layers.

    Parameters
    ----------
    result : resode.depth.Multilevel
    save : path, optional
        Write the figure there (PNG unless the extension says otherwise).
    dpi : float
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mpl()
    from .depth import Multilevel

    if not isinstance(result, Multilevel):
        raise TypeError(
            f"result must be a resode.depth.Multilevel (from depth.multilevel_fit), got "
            f"{type(result).__name__}"
        )
    if not result.histories or sum(len(h) for h in result.histories) == 0:
        raise ValueError("the multilevel result has no recorded epochs")
    has_acc = any(len(h.accuracy) for h in result.histories)
    fig = _figure((11.0, 4.2) if has_acc else (6.0, 4.2))
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    colors = _palette(len(result.histories))
    start = 0
    for j, (h, m) in enumerate(zip(result.histories, result.models, strict=True)):
        epochs = start + np.arange(1, len(h) + 1)
        keys = [("loss", "val_loss")] + ([("accuracy", "val_accuracy")] if has_acc else [])
        for ax, (key, vkey) in zip(axes, keys, strict=True):
            values = np.asarray(getattr(h, key), dtype=np.float64)
            if values.size:
                ax.plot(epochs, values, color=colors[j], label=f"L={m.n_layers}")
            vvalues = np.asarray(getattr(h, vkey), dtype=np.float64)
            if vvalues.size:
                ax.plot(epochs, vvalues, color=colors[j], ls="--", lw=0.8)
            if j > 0:
                ax.axvline(start + 0.5, color="0.5", ls=":", lw=0.8)
        start += len(h)
    has_val = any(len(h.val_loss) for h in result.histories)
    dashed = " (dashed: validation)" if has_val else ""
    axes[0].set_ylabel("mean cost J / N" + dashed)
    losses = np.concatenate([np.asarray(h.loss, dtype=np.float64) for h in result.histories])
    if np.all(losses[np.isfinite(losses)] > 0):
        axes[0].set_yscale("log")
    if has_acc:
        axes[1].set_ylabel("accuracy" + dashed)
    for ax in axes:
        ax.set_xlabel("epoch (all levels)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, title="level")
    title = "Multilevel training: train, prolong L -> 2L, continue"
    fig.suptitle(title + (" (interrupted)" if result.interrupted else ""))
    return _finish(fig, save, dpi)
