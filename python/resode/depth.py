"""Depth: prolongation of a model to more layers, multilevel training, and depth studies.

A model with L layers on [0, T] has piecewise-constant parameters in time: layer k (step
``h = T / L``) uses ``theta(t) = theta_k`` on ``[k h, (k + 1) h)``. Prolongation to
``factor * L`` layers keeps this function ``theta(t)`` -- every layer's parameters are
used by ``factor`` consecutive layers of step ``h / factor`` -- so the underlying ODE
``x' = f(x, theta(t))`` and its continuous cost are unchanged and only the
discretisation is refined: the network function changes by O(h) (forward Euler is first
order; another scheme, by its order) and converges to the ODE's flow map as the factor
grows (Celledoni et al. 2021, eqs. 29-30: with piecewise-constant parameters the discrete data fit
and its gradient converge to the continuous ones). The Tikhonov term
``(w2 h / 2) sum_k ||theta_k||^2`` is the same Riemann sum after prolongation, so the
whole cost J converges.

Functions: :func:`prolong_parameters` (arrays), :func:`prolong` (a model),
:func:`multilevel_fit` (train at L, prolong, continue), :func:`convergence` (the
discrete solution as L grows with T fixed), :func:`depth_study` (train at several depths,
loss and accuracy against depth, and the convergence study). Plots:
:func:`resode.plot.depth_study`, :func:`resode.plot.convergence` and
:func:`resode.plot.multilevel`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _validation as v
from . import functional as F
from .analysis import _group_index, _per_layer, sweep_options
from .model import CLASSIFIER_HEADS, ResNetODE

__all__ = [
    "Convergence",
    "DepthStudy",
    "Multilevel",
    "convergence",
    "depth_study",
    "multilevel_fit",
    "prolong",
    "prolong_parameters",
]

PROLONG_MODES = ("repeat", "share")


# -- prolongation ---------------------------------------------------------------------------


def _fine_groups(G: int, L: int, factor: int) -> tuple[np.ndarray, int]:
    """(source group of each fine group, layers per fine group) for ``factor * L`` layers.

    The fine parameters are ``P'[g] = P[source[g]]``; the functional API's grouping of
    ``factor * L`` layers over ``len(P')`` groups then gives fine layer j the coarse
    group of layer ``j // factor``, i.e. the same parameters at the same time.
    """
    coarse = _group_index(G, L)
    target = coarse[np.arange(factor * L) // factor]  # the group fine layer j must use
    m = -(-L // G)
    G_fine = -(-(factor * L) // m)
    source = np.arange(G_fine) // factor  # each group repeated factor times, cut
    try:
        ok = np.array_equal(source[_group_index(G_fine, factor * L)], target)
    except ValueError:
        ok = False
    if not ok:  # pragma: no cover - not reached for any L, G (checked exhaustively)
        return target, 1
    return source, -(-(factor * L) // G_fine)


def prolong_parameters(
    V: Any, b: Any, *, factor: int = 2, n_layers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parameter arrays for ``factor * L`` layers with the same parameters as a function of time.

    Without sharing (``n_layers`` None or ``len(V)``) every layer's entry is repeated
    ``factor`` times: ``V'[j] = V[j // factor]``. With groups of ``m = ceil(L / len(V))``
    layers sharing an entry, the groups keep the size m and each is repeated ``factor``
    times, then cut to the ``ceil(factor L / m)`` groups that ``factor * L`` layers use
    (``V'[g] = V[g // factor]``), so that fine layer j, at time ``j h / factor``, uses
    the group of coarse layer ``j // factor``, as before. Arrays of any trailing shape
    (other forms) are repeated along axis 0; dtypes are kept.

    Parameters
    ----------
    V, b : array_like
        Per-layer (or per-group) parameters, first axis L (or G).
    factor : int
        Refinement factor >= 1; the step becomes ``h / factor``.
    n_layers : int, optional
        L when the parameters are shared in groups (len(V) < L).

    Returns
    -------
    (V', b') : numpy.ndarray
        For ``factor * L`` layers (pass ``n_layers=factor * L`` with groups).
    """
    factor = v.integer("factor", factor)
    V, b = np.asarray(v._array("V", V)), np.asarray(v._array("b", b))
    if V.ndim < 1 or len(V) < 1 or b.ndim < 1 or len(b) != len(V):
        raise ValueError(
            f"V and b must hold the same number >= 1 of layers (or groups) along axis 0, "
            f"got shapes {V.shape} and {b.shape}"
        )
    L = len(V) if n_layers is None else v.integer("n_layers", n_layers)
    source, _ = _fine_groups(len(V), L, factor)
    return np.take(V, source, axis=0), np.take(b, source, axis=0)


def prolong(model: ResNetODE, factor: int = 2, *, mode: str = "repeat") -> ResNetODE:
    """A copy of ``model`` with ``factor * n_layers`` layers and the same ODE.

    The parameters as a function of time, ``theta(t)``, the final time T, the head and
    the time-stepping options are unchanged; the step becomes ``h / factor``. The
    network function changes by the discretisation error, O(h) for forward Euler; the
    ODE and its cost functional do not change at all (see the module docstring).

    Parameters
    ----------
    model : ResNetODE
        The trained coarse model (not modified).
    factor : int
        Refinement factor >= 1.
    mode : {'repeat', 'share'}
        ``'repeat'``: each layer (or parameter group) is copied into ``factor``
        consecutive ones (:func:`prolong_parameters`); the fine model has ``factor``
        times the layer parameters, which continued training can then move
        independently (multilevel training). Groups of ``m`` shared layers stay groups
        of ``m`` (``share = m``). ``'share'``: the arrays are kept and the sharing is
        multiplied by ``factor``, so the fine model has the same parameters (e.g. an
        autonomous neural ODE, ``share = n_layers``, stays autonomous). That keeps
        theta(t) only when the groups are of equal size (``share`` divides
        ``n_layers``); otherwise ``'share'`` raises ValueError. In both modes
        ``len(new.V) == new.n_groups``.

    Returns
    -------
    ResNetODE
        A new model; ``prolong(model, f).n_layers == f * model.n_layers``.
    """
    if not isinstance(model, ResNetODE):
        raise TypeError(f"model must be a resode.ResNetODE, got {type(model).__name__}")
    factor = v.integer("factor", factor)
    mode = v.choice("mode", mode, PROLONG_MODES)
    L, G = model.n_layers, len(model.V)
    new = model.copy()
    if mode == "share":
        m = -(-L // G)  # the layers per group that the sweeps use
        if L % m:
            raise ValueError(
                f"mode='share' keeps the parameter arrays, which keeps theta(t) only for "
                f"groups of equal size; n_layers={L} in {G} groups of {m} has a shorter last "
                "group: use mode='repeat'"
            )
        new.share = m * factor
    else:
        source, m_fine = _fine_groups(G, L, factor)
        new.V, new.b = np.take(model.V, source, axis=0), np.take(model.b, source, axis=0)
        new.share = m_fine
    new.n_layers = factor * L
    return new


# -- multilevel training --------------------------------------------------------------------


@dataclass
class Multilevel:
    """The result of :func:`multilevel_fit`: one trained model and History per level."""

    models: list[ResNetODE] = field(default_factory=list)
    histories: list[Any] = field(default_factory=list)
    interrupted: bool = False

    @property
    def model(self) -> ResNetODE:
        """The model of the last level trained."""
        if not self.models:
            raise ValueError("no level was trained (interrupted before the first)")
        return self.models[-1]

    @property
    def n_layers(self) -> list[int]:
        return [m.n_layers for m in self.models]

    def __repr__(self) -> str:
        last = [f"{h.loss[-1]:.4g}" if len(h) else "-" for h in self.histories]
        return (
            f"Multilevel(n_layers={self.n_layers}, final losses={last}, "
            f"interrupted={self.interrupted})"
        )


class _Progress:
    """One tqdm bar over the epochs of several trainings, advanced by a fit callback."""

    def __init__(self, total: int, progress: bool | None, desc: str):
        self.bar = None
        if progress is False:
            return
        if progress is not None and not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a core dependency
            return
        import sys

        if progress is None and not sys.stderr.isatty():
            return
        self.bar = tqdm(total=total, unit="epoch", desc=desc)
        self.done = 0

    def callback(self, n_layers: int) -> Callable:
        def cb(epoch, logs, model):
            if self.bar is not None:
                self.bar.update(1)
                self.done += 1
                post = {"L": n_layers, "loss": f"{logs['loss']:.4g}"}
                if "accuracy" in logs:
                    post["acc"] = f"{logs['accuracy']:.3f}"
                self.bar.set_postfix(post, refresh=False)
            return False

        return cb

    def advance_to(self, done: int) -> None:
        """After a training that stopped early: jump to its share of the total."""
        if self.bar is not None and done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _epochs_per(name: str, epochs: Any, n: int) -> list[int]:
    if isinstance(epochs, (int, np.integer)) and not isinstance(epochs, bool):
        out = [int(epochs)] * n
    else:
        try:
            out = [int(e) for e in epochs]
        except TypeError:
            raise TypeError(f"epochs must be an int or a sequence of {n} ints") from None
        if len(out) != n:
            raise ValueError(f"epochs must have one entry per {name} ({n}), got {len(out)}")
    if any(e < 0 for e in out):
        raise ValueError(f"epochs must be >= 0, got {epochs!r}")
    return out


def _fit_kwargs(fit_kwargs: dict, extra_callback: Callable) -> dict:
    kw = dict(fit_kwargs)
    kw["callbacks"] = [*kw.get("callbacks", ()), extra_callback]
    kw["progress"] = False
    return kw


def multilevel_fit(
    model: ResNetODE,
    X: Any,
    Y: Any,
    *,
    levels: int = 3,
    factor: int = 2,
    epochs: int | Sequence[int] = 100,
    mode: str = "repeat",
    progress: bool | None = None,
    **fit_kwargs: Any,
) -> Multilevel:
    """Multilevel training: train at L layers, prolong to ``factor * L``, continue, repeat.

    Level j trains a model with ``model.n_layers * factor**j`` layers, starting from the
    prolongation (:func:`prolong`, ``mode``) of level j - 1's trained model, so every
    level starts where the coarser one ended, with the same ODE.

    Parameters
    ----------
    model : ResNetODE
        The coarsest model, at its initial parameters. It is not modified: level 0
        trains a copy.
    X, Y
        training data, as for :meth:`ResNetODE.fit`.
    levels : int
        Number of levels (>= 1).
    factor : int
        Refinement between levels.
    epochs : int or sequence of int
        Epochs per level (one value for all, or one per level).
    mode : {'repeat', 'share'}
        The prolongation (see :func:`prolong`).
    progress : bool or None
        One progress bar over the epochs of all levels (tqdm); None shows it on a
        terminal.
    **fit_kwargs :
        Passed to :meth:`ResNetODE.fit` at every level (optimizer, lr, batch_size, seed,
        validation_data, callbacks, ...).

    Returns
    -------
    Multilevel
        ``.models`` and ``.histories`` per level, ``.model`` the finest.

    Ctrl-C stops the study: the level in training keeps the parameters of its last
    completed step (as :meth:`ResNetODE.fit`; its History says ``'interrupted'``) and is
    the last entry; coarser levels are complete. ``.interrupted`` is then True.
    """
    if not isinstance(model, ResNetODE):
        raise TypeError(f"model must be a resode.ResNetODE, got {type(model).__name__}")
    levels = v.integer("levels", levels)
    factor = v.integer("factor", factor)
    mode = v.choice("mode", mode, PROLONG_MODES)
    per_level = _epochs_per("level", epochs, levels)
    bar = _Progress(sum(per_level), progress, "multilevel")
    result = Multilevel()
    current = model.copy()
    try:
        for j in range(levels):
            if j > 0:
                current = prolong(current, factor, mode=mode)
            kw = _fit_kwargs(fit_kwargs, bar.callback(current.n_layers))
            history = current.fit(X, Y, epochs=per_level[j], **kw)
            result.models.append(current)
            result.histories.append(history)
            bar.advance_to(sum(per_level[: j + 1]))
            if history.stop_reason == "interrupted":
                result.interrupted = True
                break
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
    return result


# -- convergence as L grows with T fixed ----------------------------------------------------


@dataclass(frozen=True, repr=False)
class Convergence:
    """The discrete solution of one ODE, ``theta(t)`` fixed, as the number of layers grows.

    Attributes (n refinements)
    ----------
    n_layers, h : (n,) layers ``factor * L0`` and steps ``T / n_layers``.
    state_error, state_error_max : (n,) mean and max over samples of
        ``|x_{L+1}^i - x_ref^i|``, the final state's distance to the reference solution.
    loss : (n,) or None: the mean cost J / N of the prolonged model (with Y).
    loss_error : (n,) or None: ``|J_n - J_ref| / N``.
    grad_error : (n,) or None: ``|g_n - g_ref| / |g_ref|``, g the gradient of J with
        respect to the base model's parameters (Celledoni et al. eq. 30; the sum of the fine
        layers' gradients over each base layer, and the head's).
    reference_layers : the layers of the reference solution.
    """

    base_layers: int
    T: float
    n_layers: np.ndarray
    h: np.ndarray
    state_error: np.ndarray
    state_error_max: np.ndarray
    reference_layers: int
    loss: np.ndarray | None = None
    loss_error: np.ndarray | None = None
    grad_error: np.ndarray | None = None
    reference_loss: float | None = None

    def order(self, what: str = "state") -> float:
        """The observed order p of ``error ~ C h^p``: least-squares slope in log-log.

        ``what`` is ``'state'``, ``'loss'`` or ``'grad'``. Forward Euler gives p near 1
        (another time-stepping scheme, where resode has them, its own order).
        Points with a zero error are left out; fewer than two points give NaN.
        """
        errors = {"state": self.state_error, "loss": self.loss_error, "grad": self.grad_error}
        if what not in errors:
            raise ValueError(f"what must be 'state', 'loss' or 'grad', got {what!r}")
        err = errors[what]
        if err is None:
            raise ValueError(f"no {what} errors: convergence() was called without Y")
        ok = err > 0
        if ok.sum() < 2:
            return float("nan")
        return float(np.polyfit(np.log(self.h[ok]), np.log(err[ok]), 1)[0])

    def table(self) -> str:
        """The errors against the number of layers, as text."""
        head = f"{'L':>6} {'h':>9} {'|x - x_ref|':>12} {'max':>10}"
        if self.loss is not None:
            head += f" {'J/N':>11} {'|J - J_ref|/N':>13} {'grad rel.err':>12}"
        lines = [head]
        for i, L in enumerate(self.n_layers):
            line = (
                f"{L:>6} {self.h[i]:>9.3g} {self.state_error[i]:>12.4g} "
                f"{self.state_error_max[i]:>10.4g}"
            )
            if self.loss is not None:
                assert self.loss_error is not None and self.grad_error is not None  # with loss
                line += (
                    f" {self.loss[i]:>11.6g} {self.loss_error[i]:>13.4g} "
                    f"{self.grad_error[i]:>12.4g}"
                )
            lines.append(line)
        orders = f"observed order (state): {self.order('state'):.2f}"
        if self.loss is not None:
            orders += f", (loss): {self.order('loss'):.2f}, (grad): {self.order('grad'):.2f}"
        lines.append(f"reference: L = {self.reference_layers}; {orders}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (
            f"Convergence(base_layers={self.base_layers}, n_layers={self.n_layers.tolist()}, "
            f"order={self.order('state'):.2f})"
        )


def convergence(
    model: ResNetODE,
    X: Any,
    Y: Any = None,
    *,
    factors: Sequence[int] = (1, 2, 4, 8, 16),
    reference_factor: int | None = None,
    threads: int | None = None,
) -> Convergence:
    """How the discrete solution converges as the layers grow with T and ``theta(t)`` fixed.

    The model's parameters, piecewise constant on its L0 layers, define one ODE
    ``x' = f(x, theta(t))``. For each factor f it is discretised with ``f L0`` layers
    (:func:`prolong_parameters`) and compared with a finer reference discretisation
    (``reference_factor * L0`` layers): the final states (error O(h^p) for a scheme of
    order p: p = 1 for forward Euler),
    and with targets Y the mean cost J / N and its gradient with respect to the model's
    parameters, which converge to the continuous cost and its derivative (Celledoni
    et al. 2021, eqs. 29-30). The reference is itself a discretisation, so the errors are those
    relative to it; take ``reference_factor`` well above the factors (default 4 times
    the largest).

    Parameters
    ----------
    model : ResNetODE
        Any model (trained or not); not modified.
    X : array_like, shape (N, n_features <= model.dim)
        Inputs.
    Y : array_like, optional
        Targets for the model's head; adds the cost and gradient columns.
    factors : sequence of int
        Refinement factors (>= 1), e.g. powers of two.
    reference_factor : int, optional
        Factor of the reference solution (default ``4 * max(factors)``).
    threads : int, optional
        Threads of the sweeps.

    Returns
    -------
    Convergence
    """
    if not isinstance(model, ResNetODE):
        raise TypeError(f"model must be a resode.ResNetODE, got {type(model).__name__}")
    try:
        fs = [v.integer("factors", f) for f in factors]
    except TypeError:
        raise TypeError(f"factors must be a sequence of integers >= 1, got {factors!r}") from None
    if not fs:
        raise ValueError("factors must not be empty")
    ref = (
        4 * max(fs) if reference_factor is None else v.integer("reference_factor", reference_factor)
    )
    Xp = model.initial_states(X)
    L0 = model.n_layers
    Vl, bl = _per_layer(model.V, model.b, L0)  # one entry per base layer
    group = _group_index(len(model.V), L0)  # base layer -> parameter group
    sweep = sweep_options(model, threads)  # T, form, activation, gamma, threads, ...
    cost = model._cost()  # head, W, mu, w1, w2, w_head
    n = max(len(Xp), 1)

    def solve(f: int):
        Vf, bf = np.repeat(Vl, f, axis=0), np.repeat(bl, f, axis=0)
        out = F.forward(Xp, Vf, bf, **sweep).astype(np.float64)
        if Y is None:
            return out, None, None
        g = F.loss_and_grad(Xp, Y, Vf, bf, **sweep, **cost)
        coarse = np.arange(f * L0) // f
        dV = np.zeros((len(model.V), *Vl.shape[1:]))
        db = np.zeros((len(model.b), *bl.shape[1:]))
        np.add.at(dV, group[coarse], g.dV)
        np.add.at(db, group[coarse], g.db)
        parts = [dV.ravel(), db.ravel()]
        if g.dW is not None and g.dmu is not None:  # the head's parameters
            parts += [np.ravel(g.dW), np.ravel(g.dmu)]
        return out, g.loss / n, np.concatenate(parts).astype(np.float64)

    x_ref, J_ref, g_ref = solve(ref)
    states, losses, grads = zip(*(solve(f) for f in fs), strict=True)
    dist = np.array([np.linalg.norm(s - x_ref, axis=1) for s in states])  # (n, N)
    if dist.shape[1] == 0:
        dist = np.zeros((len(fs), 1))
    n_layers = np.array([f * L0 for f in fs])
    kw = {}
    if Y is not None:
        gnorm = np.linalg.norm(g_ref)
        kw = {
            "loss": np.array(losses),
            "loss_error": np.abs(np.array(losses) - J_ref),
            "grad_error": np.array(
                [np.linalg.norm(g - g_ref) / gnorm if gnorm > 0 else np.nan for g in grads]
            ),
            "reference_loss": float(J_ref),
        }
    return Convergence(
        base_layers=L0,
        T=float(model.T),
        n_layers=n_layers,
        h=model.T / n_layers,
        state_error=dist.mean(axis=1),
        state_error_max=dist.max(axis=1),
        reference_layers=ref * L0,
        **kw,
    )


# -- the depth study ------------------------------------------------------------------------


@dataclass
class DepthStudy:
    """Results of :func:`depth_study`, one entry per depth trained (in order).

    Attributes
    ----------
    depths
        (n,) numbers of layers L.
    loss
        (n,) final mean training cost J / N (as History.loss).
    accuracy
        (n,) final training accuracy (NaN for heads without classes).
    val_loss, val_accuracy
        (n,) the same on the validation data (NaN without).
    n_parameters
        (n,) trainable parameters of each model.
    models, histories
        the trained models and their Histories.
    convergence
        :class:`Convergence` of the shallowest trained model (None when not
        asked for or interrupted).
    interrupted
        True when Ctrl-C stopped the study (the depths completed before are
        kept; the one in training is dropped).
    """

    T: float
    depths: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    n_parameters: np.ndarray
    models: list[ResNetODE]
    histories: list[Any]
    convergence: Convergence | None = None
    interrupted: bool = False
    warm_start: bool = False

    def table(self) -> str:
        """Loss and accuracy against depth (and the convergence table), as text."""
        head = f"{'L':>6} {'h':>9} {'params':>8} {'loss':>11} {'accuracy':>9}"
        has_val = bool(np.isfinite(self.val_loss).any())
        if has_val:
            head += f" {'val loss':>11} {'val acc':>8}"
        lines = [head]
        for i, L in enumerate(self.depths):
            line = (
                f"{L:>6} {self.T / L:>9.3g} {self.n_parameters[i]:>8} {self.loss[i]:>11.5g} "
                f"{self.accuracy[i]:>9.3f}"
            )
            if has_val:
                line += f" {self.val_loss[i]:>11.5g} {self.val_accuracy[i]:>8.3f}"
            lines.append(line)
        if self.interrupted:
            lines.append("(interrupted)")
        if self.convergence is not None:
            lines += [
                "",
                f"convergence of the L = {self.convergence.base_layers} model's ODE "
                f"(theta(t) fixed, T = {self.T:g}):",
                self.convergence.table(),
            ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (
            f"DepthStudy(depths={self.depths.tolist()}, loss={np.round(self.loss, 4).tolist()}, "
            f"interrupted={self.interrupted})"
        )


def _model_at_depth(template, L: int, init: str, init_scale: float, seed) -> ResNetODE:
    if callable(template) and not isinstance(template, ResNetODE):
        model = template(L)
        if not isinstance(model, ResNetODE):
            raise TypeError(f"model(L) must return a resode.ResNetODE, got {type(model).__name__}")
        if model.n_layers != L:
            raise ValueError(f"model({L}) returned a model with n_layers={model.n_layers}")
        return model
    cfg = template.config()
    cfg["n_layers"] = L
    if template.share > 1 and template.share == template.n_layers:
        cfg["share"] = L  # an autonomous template stays autonomous
    return ResNetODE(**cfg, init=init, init_scale=init_scale, seed=seed)


def _checked_depths(depths: Any, warm_start: bool) -> list[int]:
    try:
        ds = [v.integer("depths", L) for L in depths]
    except TypeError:
        raise TypeError(f"depths must be a sequence of integers >= 1, got {depths!r}") from None
    if not ds:
        raise ValueError("depths must not be empty")
    if any(b <= a for a, b in itertools.pairwise(ds)):
        raise ValueError(f"depths must be strictly increasing, got {ds}")
    if warm_start and any(b % a for a, b in itertools.pairwise(ds)):
        raise ValueError(f"warm_start=True needs every depth to divide the next, got {ds}")
    return ds


def _train_depths(
    ds: list[int],
    per_depth: list[int],
    build: Callable[[int, ResNetODE | None], ResNetODE],
    X: Any,
    y: Any,
    fit_kwargs: dict,
    progress: bool | None,
) -> tuple[list[ResNetODE], list[Any], bool]:
    """Trains build(L, previous) at every depth under one progress bar: (models,
    histories, interrupted); Ctrl-C keeps the depths completed."""
    models: list[ResNetODE] = []
    histories: list[Any] = []
    bar = _Progress(sum(per_depth), progress, "depth study")
    try:
        for i, L in enumerate(ds):
            m = build(L, models[-1] if models else None)
            if models and not math.isclose(m.T, models[0].T):
                raise ValueError(
                    f"all depths must share T; got T={models[0].T} and T={m.T} (L={L})"
                )
            history = m.fit(X, y, epochs=per_depth[i], **_fit_kwargs(fit_kwargs, bar.callback(L)))
            if history.stop_reason == "interrupted":
                return models, histories, True
            models.append(m)
            histories.append(history)
            bar.advance_to(sum(per_depth[: i + 1]))
    except KeyboardInterrupt:
        return models, histories, True
    finally:
        bar.close()
    return models, histories, False


def _scores(
    models: list[ResNetODE], X: Any, y: Any, threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each model's cost J / N on (X, y) and its accuracy (NaN for non-classifier heads)."""
    loss, acc = np.full(len(models), np.nan), np.full(len(models), np.nan)
    for i, m in enumerate(models):
        Xp = m.prepare_inputs(X)
        loss[i] = m.loss(Xp, y, threads=threads) / max(len(Xp), 1)
        if m.head in CLASSIFIER_HEADS:
            acc[i] = m.accuracy(Xp, y, threads=threads)
    return loss, acc


def _convergence_factors(L0: int, ds: list[int]) -> list[int]:
    """The depth factors of the convergence check: depths[i] / depths[0] when they are
    integers, else powers of two up to the largest depth."""
    if all(L % L0 == 0 for L in ds):
        factors = [L // L0 for L in ds]
    else:
        factors = [2**j for j in range(max(1, math.ceil(math.log2(ds[-1] / L0))) + 1)]
    return factors if len(factors) >= 2 else [1, 2]


def depth_study(
    model: ResNetODE | Callable[[int], ResNetODE],
    X: Any,
    y: Any,
    *,
    depths: Sequence[int] = (4, 8, 16, 32),
    epochs: int | Sequence[int] = 100,
    warm_start: bool = False,
    validation_data: tuple | None = None,
    init: str = "uniform",
    init_scale: float = 0.1,
    seed: int | None = 0,
    convergence_check: bool = True,
    progress: bool | None = None,
    threads: int | None = None,
    **fit_kwargs: Any,
) -> DepthStudy:
    """Train at several depths L with T fixed; loss and accuracy against depth.

    For each L in ``depths`` a model with L layers (step ``h = T / L``) is trained on
    (X, y) and its final training cost J / N and accuracy (and on ``validation_data``)
    are recorded. Then, unless ``convergence_check=False``, :func:`convergence` on the
    shallowest trained model shows its discrete solution converging as the layers grow
    with T and theta(t) fixed (factors ``depths[i] / depths[0]`` when they are integers,
    else powers of two up to the largest depth).

    Parameters
    ----------
    model : ResNetODE or callable
        A template whose ``config()`` (architecture, T, head, weights, dtype) is used at
        every depth with ``n_layers = L``, its parameters drawn with ``init``,
        ``init_scale`` and ``seed`` (an autonomous template, ``share == n_layers``,
        stays autonomous); or a callable ``L -> ResNetODE`` building the model.
    X, y
        training data.
    depths : sequence of int
        The depths, increasing.
    epochs : int or sequence of int
        Epochs per depth.
    warm_start : bool
        False: every depth trains from its own initialisation. True: multilevel -- each
        depth starts from the previous depth's trained model prolonged
        (:func:`prolong`, ``'repeat'``); every depth must then divide the next.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch (``fit``) and at the end.
    init, init_scale, seed :
        Initialisation of template models (:meth:`ResNetODE.initialize`).
    convergence_check : bool
        Add the :func:`convergence` study (with ``Y = y``).
    progress : bool or None
        One tqdm bar over all epochs of all depths; None shows it on a terminal.
    threads : int, optional
        Threads of the sweeps.
    **fit_kwargs :
        Passed to :meth:`ResNetODE.fit` (optimizer, lr, batch_size, callbacks, ...);
        the fit's shuffling ``seed`` defaults to ``seed``.

    Returns
    -------
    DepthStudy
        ``print(study)`` shows the table.

    Ctrl-C stops the study and returns the depths completed so far (``.interrupted`` is
    True; the depth in training is dropped, and there is no convergence part).
    """
    warm_start = v.flag("warm_start", warm_start)
    ds = _checked_depths(depths, warm_start)
    convergence_check = v.flag("convergence_check", convergence_check)
    if not isinstance(model, ResNetODE) and not callable(model):
        raise TypeError(
            f"model must be a resode.ResNetODE template or a callable L -> ResNetODE, "
            f"got {type(model).__name__}"
        )
    per_depth = _epochs_per("depth", epochs, len(ds))
    fit_kwargs.setdefault("seed", seed)
    fit_kwargs["threads"] = threads
    if validation_data is not None:
        fit_kwargs["validation_data"] = validation_data

    def build(L: int, previous: ResNetODE | None) -> ResNetODE:
        if warm_start and previous is not None:
            return prolong(previous, L // previous.n_layers)
        return _model_at_depth(model, L, init, init_scale, seed)

    models, histories, interrupted = _train_depths(ds, per_depth, build, X, y, fit_kwargs, progress)
    T = models[0].T if models else None
    loss, acc = _scores(models, X, y, threads)
    if validation_data is not None:
        vloss, vacc = _scores(models, validation_data[0], validation_data[1], threads)
    else:
        vloss, vacc = np.full(len(models), np.nan), np.full(len(models), np.nan)
    conv = None
    if convergence_check and models and not interrupted:
        factors = _convergence_factors(models[0].n_layers, ds)
        conv = convergence(models[0], X, y, factors=factors, threads=threads)
    return DepthStudy(
        T=float(T) if T is not None else float("nan"),
        depths=np.array([m.n_layers for m in models], dtype=np.int64),
        loss=loss,
        accuracy=acc,
        val_loss=vloss,
        val_accuracy=vacc,
        n_parameters=np.array([m.n_parameters for m in models], dtype=np.int64),
        models=models,
        histories=histories,
        convergence=conv,
        interrupted=interrupted,
        warm_start=warm_start,
    )
