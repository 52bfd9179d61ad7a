"""The training loop: thin Python over loss_and_grad, nothing per sample or per layer.

Training minimises the mean cost J / N (docs/mathematics.md): a mini-batch B
estimates it with sample weights s_i / |B| and the regularisers divided by N.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _validation as v
from ._errors import NonFiniteError
from .model import CLASSIFIER_HEADS, ResNetODE, ZeroGradientWarning
from .msa import MSA
from .optim import LBFGS, make_optimizer, make_schedule

__all__ = ["EarlyStopping", "History", "fit"]

Callback = Callable[[int, dict, ResNetODE], Any]


@dataclass
class History:
    """Per-epoch records of a training run (lists of equal length, one entry per epoch)."""

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # mean cost J/N on the training data
    accuracy: list[float] = field(default_factory=list)  # classifier heads only
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)  # seconds spent in the epoch
    stop_reason: str = "completed"  # or 'early_stopping', 'callback', 'interrupted', 'converged'

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            getattr(self, key).append(value)

    def as_dict(self) -> dict[str, list]:
        return {
            k: getattr(self, k)
            for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")
            if getattr(self, k)
        }

    def __len__(self) -> int:
        return len(self.epoch)


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    optionally put back the best parameters seen.

    With ``lr_reductions = k > 0`` the first k such plateaus do not stop training:
    each multiplies the learning rate by ``lr_factor`` instead (the plateau rule of
    Keras' and PyTorch's ReduceLROnPlateau), and the k + 1-th stops it.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        lr_reductions: int = 0,
        lr_factor: float = 0.1,
    ):
        if monitor not in ("loss", "val_loss", "accuracy", "val_accuracy"):
            raise ValueError(f"monitor must be a History field, got {monitor!r}")
        self.monitor, self.patience = monitor, int(patience)
        self.min_delta, self.restore_best = float(min_delta), bool(restore_best)
        self.lr_reductions = v.integer("lr_reductions", lr_reductions, 0)
        self.lr_factor = v.real("lr_factor", lr_factor, positive=True)
        if not self.lr_factor < 1:
            raise ValueError(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        self.best: float | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.wait = 0
        self.lr_scale = 1.0  # the training loop multiplies the scheduled rate by it
        self.reduced = 0

    def __call__(self, epoch: int, logs: dict, model: ResNetODE) -> bool:
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which this run does not "
                "record (validation data or a classifier head missing, or epoch_loss='batches'?)"
            )
        value = logs[self.monitor]
        sign = 1.0 if "loss" in self.monitor else -1.0  # losses fall, accuracies rise
        if self.best is None or sign * (self.best - value) > self.min_delta:
            self.best, self.wait = value, 0
            if self.restore_best:
                self.best_params = {k: a.copy() for k, a in model.parameters().items()}
            return False
        self.wait += 1
        if self.wait < self.patience:
            return False
        if self.reduced < self.lr_reductions:
            self.reduced += 1
            self.lr_scale *= self.lr_factor
            self.wait = 0
            return False
        return True

    def on_train_end(self, model: ResNetODE) -> None:
        if self.restore_best and self.best_params is not None:
            model.set_parameters(**self.best_params)


class _Objective:
    """The mean cost J/N of a model on a data set, and its mini-batch estimates.

    The data and the model's options are checked once, here; each step then calls
    the kernels with no more checks than the binding's own (shapes, dtypes, layout),
    which on small mini-batches would cost as much as the kernels (measured by
    bench/learner_profile.py)."""

    def __init__(self, model: ResNetODE, X, Y, sample_weight, threads):
        self.model, self.threads = model, threads
        self.X = model.prepare_inputs(X)
        v._check_finite("X", self.X)
        n = len(self.X)
        if n == 0:
            raise ValueError("X has no samples to train on")
        self.Y = v.head_targets(model.head, Y, n, model.head_rows or model.dim, model.dtype)
        self.sw = (
            np.ones(n)
            if sample_weight is None
            else v.as_sample_weight(sample_weight, n, np.dtype(np.float64))
        )
        self.n = n
        self.call = model.checked_cost(penalty_scale=1.0 / n, threads=threads, rows=n)
        self._epoch: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, idx=None, input_grad=False):
        X, Y, sw = self._rows(idx)
        weights = v.kernel_array(sw / len(X), self.model.dtype)
        return self.model.cost_with(self.call, X, Y, weights, input_grad=input_grad)

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """The epoch's order of the samples (None: as given); a batch is then a slice
        of it. The rows are copied in that order once an epoch, so that a batch is
        contiguous rows rather than a gather of scattered ones (about 90 us a step of
        200 rows at N = 1e5, measured by bench/learner_profile.py)."""
        self._epoch = None  # the last epoch's copy goes first
        if order is not None:
            self._epoch = (self.X[order], self.Y[order], self.sw[order])

    def _rows(self, idx=None):
        """The rows idx: None (all), a slice of the epoch's order, or indices."""
        if idx is None:
            return self.X, self.Y, self.sw
        if isinstance(idx, slice):
            X, Y, sw = self._epoch or (self.X, self.Y, self.sw)
            return X[idx], Y[idx], sw[idx]
        return self.X[idx], self.Y[idx], self.sw[idx]

    def batch(self, idx=None) -> tuple[np.ndarray, Any, dict[str, Any]]:
        """(X, Y, cost options) of the estimate of J/N on the samples idx (None: all),
        for the optimisers that take the kernels' options themselves (MSA)."""
        X, Y, sw = self._rows(idx)
        return X, Y, self._options(sw / len(X))

    def _options(self, sample_weight) -> dict[str, Any]:
        """The model's cost as the mean over samples: regularisers scaled by 1/N, as
        the kernel call of the gradient steps has them (``model.checked_cost``)."""
        m = self.model
        return {**m._net(self.threads), **m._scaled_cost(1.0 / self.n, sample_weight)}

    def grads(self, g) -> dict[str, np.ndarray]:
        """The gradient's arrays by parameter name, in the order of model.parameters()."""
        return {name: getattr(g, "d" + name) for name in self.model.parameters()}

    def mean_loss(self) -> float:
        """J/N on the whole data set (no trajectory stored)."""
        weights = v.kernel_array(self.sw / self.n, self.model.dtype)
        return self.model.cost_with(self.call, self.X, self.Y, weights, grad=False)

    def accuracy(self) -> float:
        """The fraction of correctly classified samples (classifier heads), weighted as
        the samples' costs are."""
        return self.model.accuracy(self.X, self.Y, sample_weight=self.sw, threads=self.threads)


def validation_objective(model: ResNetODE, validation_data, threads) -> _Objective | None:
    """The objective of ``fit``'s validation_data: (X, Y) or (X, Y, weights)."""
    if validation_data is None:
        return None
    if len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be (X_val, Y_val) or (X_val, Y_val, weights)")
    Xv, Yv, wv = (*validation_data, None)[:3]
    if wv is not None:  # a weighted mean: weights k count as k copies of a sample
        wv = v.as_sample_weight(wv, len(Xv), np.dtype(np.float64))
        total = wv.sum()
        wv = wv * (len(wv) / total) if total > 0 else wv
    return _Objective(model, Xv, Yv, wv, threads)


EPOCH_LOSSES = ("full", "batches")


def fit(
    model: ResNetODE,
    X: Any,
    Y: Any,
    *,
    optimizer: Any = "adam",
    lr: float | Callable[[int], float] | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    sample_weight: Any = None,
    validation_data: tuple | None = None,
    callbacks: Iterable[Callback] = (),
    early_stopping: EarlyStopping | int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    progress: bool | None = None,
    threads: int | None = None,
    projection: Callable[[ResNetODE], Any] | None = None,
    epoch_loss: str = "full",
    resume: bool = False,
) -> History:
    """Train ``model`` in place on (X, Y) and return its History.

    Parameters
    ----------
    optimizer
        ``'gd'`` (full batch), ``'sgd'`` (momentum), ``'adam'``, ``'lbfgs'``
        (scipy, full batch), ``'msa'`` / ``'emsa'`` (the basic / extended method of
        successive approximations, full batch, :mod:`resode.msa`), or an optimiser
        object from :mod:`resode.optim`.
    lr
        learning rate: a float, a schedule (callable epoch -> lr, e.g.
        :class:`resode.optim.StepDecay`), or None for the optimiser's default.
    epochs
        passes over the data (L-BFGS: iterations).
    batch_size
        samples per step; None means full batch for 'gd', 'lbfgs', 'msa' and
        'emsa' and
        min(N, 128) for 'sgd' and 'adam'.
    validation_data
        (X_val, Y_val) or (X_val, Y_val, weights), evaluated after every
        epoch (with weights, as the weighted mean).
    callbacks
        callables ``cb(epoch, logs, model)``; a truthy return stops training.
    early_stopping
        an :class:`EarlyStopping`, or an int patience on val_loss
        (loss without validation data).
    seed
        seed of the mini-batch shuffling (results are reproducible for a seed).
    progress
        tqdm progress bar; None shows it on a terminal for runs over a second.
    projection
        a function of the model called after every optimiser step, after
        the model's own :meth:`~resode.ResNetODE.project_parameters` (which keeps
        ResNet-D's A >= 0): a projected-gradient method for any constraint set. With
        'lbfgs', ResNet-D's constraint becomes bounds of L-BFGS-B and a projection
        function is an error.
    epoch_loss
        the ``loss`` an epoch records (and early stopping on the training
        loss watches): ``'full'``, J/N on the whole training set after the epoch (one
        more sweep over the data, and the training accuracy with it), or
        ``'batches'``, the mean of the epoch's mini-batch losses as they were
        computed (free; what scikit-learn's MLP records in ``loss_curve_``; no
        training accuracy). L-BFGS and MSA always record ``'full'``.
    resume
        with an optimiser object that trained this model before, go on from its
        state (Adam's moments and step count, SGD's velocity) instead of starting
        afresh: successive calls then make one run (``partial_fit``).

    Notes
    -----
    A non-finite loss raises :class:`resode.NonFiniteError` after restoring the last
    finite parameters. Ctrl-C stops cleanly between steps: the model keeps the
    parameters of the last completed step and the History says 'interrupted'.
    """
    objective = _Objective(model, X, Y, sample_weight, threads)
    validation = validation_objective(model, validation_data, threads)
    return train(
        model, objective, validation, optimizer=optimizer, lr=lr, epochs=epochs,
        batch_size=batch_size, callbacks=callbacks, early_stopping=early_stopping,
        shuffle=shuffle, seed=seed, progress=progress, projection=projection,
        epoch_loss=epoch_loss, resume=resume,
    )  # fmt: skip


def train(
    model: ResNetODE,
    objective,
    validation,
    *,
    optimizer: Any,
    lr,
    epochs: int,
    batch_size: int | None,
    callbacks: Iterable[Callback],
    early_stopping,
    shuffle: bool,
    seed: int | None,
    progress: bool | None,
    projection,
    epoch_loss: str = "full",
    resume: bool = False,
) -> History:
    """The loop of :func:`fit` over any objective with the interface of ``_Objective``
    (``n``, a call on sample indices, ``grads``, ``mean_loss``, ``accuracy``, and
    ``batch`` for MSA): also that of :func:`resode.distributed.fit`."""
    opt = make_optimizer(optimizer)
    batch_losses = v.choice("epoch_loss", epoch_loss, EPOCH_LOSSES) == "batches"
    if projection is not None and not callable(projection):
        kind = type(projection).__name__
        raise TypeError(f"projection must be a function of the model, got {kind}")
    if projection is not None and isinstance(opt, LBFGS):
        raise ValueError("projection needs a step optimiser ('gd', 'adam', ...), not 'lbfgs'")

    def project() -> None:
        model.project_parameters()
        if projection is not None:
            projection(model)

    epochs = int(epochs)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    schedule = make_schedule(lr, opt.default_lr)
    if batch_size is None:
        batch_size = objective.n if opt.full_batch else min(objective.n, 128)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    callbacks = list(callbacks)
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(
            "val_loss" if validation else "loss", patience=early_stopping
        )
    if early_stopping is not None:
        callbacks.append(early_stopping)

    history = History()
    if not resume:  # a resumed run checked it when it started
        _check_initial_gradient(objective)
    bar = _progress_bar(epochs, progress)
    try:
        if isinstance(opt, LBFGS):
            _run_lbfgs(model, opt, objective, validation, epochs, callbacks, history, bar)
        else:
            _run_steps(
                model,
                opt,
                schedule,
                objective,
                validation,
                epochs,
                batch_size,
                shuffle,
                np.random.default_rng(seed),
                callbacks,
                history,
                bar,
                project,
                batch_losses,
                v.flag("resume", resume),
            )
    finally:
        if bar is not None:
            bar.close()
        for cb in callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(model)
    if history.stop_reason == "interrupted":
        warnings.warn(
            f"training interrupted after {len(history)} epochs; the model keeps the "
            "parameters of the last completed step",
            RuntimeWarning,
            stacklevel=3,
        )
    return history


def _run_steps(
    model,
    opt,
    schedule,
    objective,
    validation,
    epochs,
    batch_size,
    shuffle,
    rng,
    callbacks,
    history,
    bar,
    project=lambda: None,
    batch_losses=False,
    resume=False,
):
    if not resume:
        opt.reset(model.parameters())
    batch_losses = batch_losses and not isinstance(opt, MSA)
    saved = None  # parameters before the step in progress; None between steps
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            rate = float(schedule(epoch)) * math.prod(
                getattr(cb, "lr_scale", 1.0) for cb in callbacks
            )
            order = rng.permutation(objective.n) if shuffle else None
            full_batch = batch_size >= objective.n
            objective.begin_epoch(None if full_batch else order)
            seen = 0.0  # sum of the batch losses weighted by their sizes
            for start in range(0, objective.n, batch_size):
                idx = None if full_batch else slice(start, start + batch_size)
                saved = {k: a.copy() for k, a in model.parameters().items()}
                if isinstance(opt, MSA):  # a sweep-and-solve step, not a gradient step
                    Xb, Yb, cost = objective.batch(idx)
                    opt.update(model.parameters(), Xb, Yb, cost, rate)
                else:
                    g = objective(idx)
                    if not math.isfinite(g.loss):
                        raise NonFiniteError("the loss is not finite", stage="loss")
                    seen += g.loss * min(batch_size, objective.n - start)
                    opt.step(model.parameters(), objective.grads(g), rate)
                project()
                last_good, saved = saved, None
            try:
                logs = _epoch_logs(
                    model,
                    objective,
                    validation,
                    epoch,
                    rate,
                    time.perf_counter() - t0,
                    loss=seen / objective.n if batch_losses else None,
                )
            except NonFiniteError:
                saved = last_good  # the last step overflowed: undo it
                raise
            if _end_epoch(logs, model, callbacks, history, bar):
                return
    except KeyboardInterrupt:
        if saved is not None:  # interrupted inside a step: undo its partial work
            model.set_parameters(**saved)
        history.stop_reason = "interrupted"
    except NonFiniteError:
        if saved is not None:
            model.set_parameters(**saved)
        raise


def _run_lbfgs(model, opt, objective, validation, epochs, callbacks, history, bar):
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise ImportError("optimizer='lbfgs' needs scipy: pip install scipy") from None

    accepted = model.get_flat()
    state = {"t0": time.perf_counter(), "epoch": 0}

    def fun(theta):
        model.set_flat(theta)
        g = objective()
        flat = np.concatenate([a.ravel() for a in objective.grads(g).values()])
        return g.loss, flat.astype(np.float64)

    def callback(intermediate_result):
        nonlocal accepted
        accepted = intermediate_result.x.copy()
        model.set_flat(accepted)
        logs = _epoch_logs(
            model,
            objective,
            validation,
            state["epoch"],
            float("nan"),
            time.perf_counter() - state["t0"],
        )
        state["epoch"] += 1
        state["t0"] = time.perf_counter()
        if _end_epoch(logs, model, callbacks, history, bar):
            raise StopIteration

    if epochs == 0:
        return
    try:
        result = minimize(
            fun,
            accepted,
            jac=True,
            method="L-BFGS-B",
            bounds=_bounds(model),
            callback=callback,
            options={"maxiter": epochs, "maxcor": opt.memory, "gtol": opt.gtol, "ftol": opt.ftol},
        )
        if result.success and state["epoch"] < epochs and history.stop_reason == "completed":
            history.stop_reason = "converged"
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    except NonFiniteError:
        model.set_flat(accepted)
        raise
    model.set_flat(accepted)


def _bounds(model) -> list[tuple[float | None, float | None]] | None:
    """L-BFGS-B bounds of the flat parameters: ResNet-D's A >= 0, else none."""
    if model.form != "resnet_d":
        return None
    lower = np.full(model.n_parameters, -np.inf)
    A = np.zeros(model.V.shape, dtype=bool)
    A[:, 1] = True
    lower[: model.V.size][A.ravel()] = 0.0
    return [(None if lo == -np.inf else lo, None) for lo in lower]


def _epoch_logs(model, objective, validation, epoch, rate, seconds, loss=None) -> dict[str, float]:
    """The epoch's records; ``loss`` given (the mean batch loss) spares the pass over
    the training data that J/N and the training accuracy take."""
    full = loss is None
    logs = {"epoch": epoch, "loss": objective.mean_loss() if full else loss, "lr": rate}
    logs["time"] = seconds
    if full and model.head in CLASSIFIER_HEADS:
        logs["accuracy"] = objective.accuracy()
    if validation is not None:
        logs["val_loss"] = validation.mean_loss()
        if model.head in CLASSIFIER_HEADS:
            logs["val_accuracy"] = validation.accuracy()
    return logs


def _end_epoch(logs, model, callbacks, history, bar) -> bool:
    """Record an epoch; True when a callback asks to stop."""
    history.append(logs)
    if bar is not None:
        bar.update(1)
        bar.set_postfix(
            {k: f"{logs[k]:.4g}" for k in ("loss", "accuracy", "val_loss") if k in logs}
        )
    for cb in callbacks:
        if cb(logs["epoch"], logs, model):
            history.stop_reason = "early_stopping" if isinstance(cb, EarlyStopping) else "callback"
            return True
    return False


def _check_initial_gradient(objective) -> None:
    def zero(idx):
        return all(not np.any(a) for a in objective.grads(objective(idx)).values())

    # On the first rows, confirmed on all before warning: the whole data set's gradient
    # costs an epoch's kernel time (a third of a 3-epoch fit at N = 1e5, measured), and
    # the stuck start this warns of (a field and its gradient vanishing at the initial
    # parameters) is zero on every row. Not warned of: a gradient that is zero only by
    # cancellation between rows.
    if zero(np.arange(min(objective.n, 256))) and zero(None):
        warnings.warn(
            "the gradient is exactly zero at the initial parameters: training cannot "
            "move them (e.g. V = b = 0 with form='symmetric'); re-initialise the model",
            ZeroGradientWarning,
            stacklevel=4,
        )


def _progress_bar(epochs, progress):
    if progress is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    if progress is None:
        if not sys.stderr.isatty():
            return None
        return tqdm(total=epochs, unit="epoch", delay=1.0, leave=False)
    return tqdm(total=epochs, unit="epoch")
