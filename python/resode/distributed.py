"""Data-parallel gradients and training on a Dask cluster (extra ``distributed``).

The cost J is a sum over samples, so its gradient is a sum of per-shard
gradients. The data are cut into shards of rows (the row chunks of a Dask
array); each shard's loss and gradient are computed by resode's kernel on the
worker that holds it; the driver adds the shards' contributions in shard order
(so the result does not depend on the number of workers or on which worker
finishes first) and the regularisers once. In :func:`fit` the shards are
computed once and stay on the workers: a step sends the parameters and receives
losses and gradients only. A lost worker loses no result: Dask recomputes its
shards from their source (the task graph that made them) and reruns the step's
tasks.

Threads: Dask's worker processes set ``OMP_NUM_THREADS=1``; resode's kernels on a
worker use ``threads_per_worker`` threads (default: the worker's own
``nthreads``), passed explicitly to every call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

try:
    import dask
    import dask.array as da
    import dask.sizeof
    import distributed
except ImportError as exc:  # pragma: no cover - exercised without dask installed
    raise ImportError("resode.distributed needs Dask: pip install 'resode[distributed]'") from exc

from . import _validation as v
from . import functional as F
from . import training
from ._errors import NonFiniteError
from .model import CLASSIFIER_HEADS, ResNetODE

__all__ = ["fit", "loss_and_grad"]


# -- the client and the shards ------------------------------------------------------------------


def _resode_version() -> str:
    import resode

    return resode.__version__


def check_client(client: distributed.Client | None) -> distributed.Client:
    """The client to use (None: the default one), after checking that it can work."""
    if client is None:
        try:
            client = distributed.default_client()
        except ValueError:
            raise ValueError(
                "no Dask client: pass client=, or create one first "
                "(distributed.Client(address) or distributed.Client(LocalCluster()))"
            ) from None
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    if client.status != "running":
        raise RuntimeError(f"the Dask client is not running (status {client.status!r})")
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        raise RuntimeError(
            "the Dask cluster has no workers; start some, or wait for them with "
            "client.wait_for_workers(n)"
        )
    versions = client.run(_resode_version, on_error="return")
    broken = {w: r for w, r in versions.items() if isinstance(r, BaseException)}
    if broken:
        worker, error = next(iter(broken.items()))
        raise RuntimeError(
            f"{len(broken)} of {len(versions)} Dask workers cannot import resode "
            f"(e.g. {worker}: {type(error).__name__}: {error}); install resode where the "
            "workers run"
        )
    return client


def _as_rows(name: str, a: Any, chunks: Sequence[int] | int) -> da.Array:
    """a as a Dask array chunked by rows only (NumPy arrays are cut into `chunks`)."""
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        return da.from_array(a, chunks=(chunks, *a.shape[1:]))
    if any(math.isnan(c) for c in a.chunks[0]):
        raise ValueError(
            f"{name} has chunks of unknown size; call {name}.compute_chunk_sizes() first"
        )
    return a.rechunk({i: -1 for i in range(1, a.ndim)})


def shard_arrays(X, Y, sample_weight, n_shards: int) -> tuple[da.Array, da.Array, da.Array | None]:
    """X, Y (and the weights) as Dask arrays with the same row chunks, those of X.

    NumPy inputs are cut into n_shards shards of equal rows; Y and the weights are
    rechunked to X's rows when their chunks differ.
    """
    if not isinstance(X, da.Array):
        X = np.asarray(X)
    rows = max(1, -(-X.shape[0] // max(1, n_shards))) if X.ndim and X.shape[0] else 1
    X = _as_rows("X", X, rows)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, d), got shape {X.shape}")
    out = [X]
    for name, a in (("Y", Y), ("sample_weight", sample_weight)):
        if a is None:
            out.append(None)
            continue
        rows = np.shape(a)[0] if np.ndim(a) else 0
        if rows != X.shape[0]:
            raise ValueError(f"{name} has {rows} rows but X has {X.shape[0]}")
        a = _as_rows(name, a, X.chunks[0])
        out.append(a if a.chunks[0] == X.chunks[0] else a.rechunk({0: X.chunks[0]}))
    return tuple(out)


@dataclass
class Shard:
    """Rows [start, start + len(X)) of the data, validated, as they live on a worker."""

    X: np.ndarray
    Y: np.ndarray
    sw: np.ndarray | None  # None: every weight 1
    start: int

    def rows(self) -> str:
        return f"rows {self.start}..{self.start + len(self.X) - 1}"


def _make_shard(X, Y, sw, start: int, prepare: Callable) -> Shard:
    try:
        X, Y = prepare(X, Y)
        sw = v.as_sample_weight(sw, len(X), np.dtype(np.float64))
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"the shard of rows {start}..{start + len(X) - 1}: {exc}") from None
    return Shard(X, Y, sw, start)


class ShardedData:
    """The shards of (X, Y, weights), computed on the workers and kept there."""

    def __init__(self, client, X, Y, sample_weight, prepare: Callable, n_shards: int | None = None):
        self.client = client
        n_shards = n_shards or len(client.scheduler_info()["workers"])
        X, Y, sw = shard_arrays(X, Y, sample_weight, n_shards)
        self.n = int(X.shape[0])
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])])[:-1]
        blocks = [
            a.to_delayed().ravel() if a is not None else [None] * len(starts) for a in (X, Y, sw)
        ]
        make = dask.delayed(
            _make_shard, pure=False
        )  # keys of their own: release() cancels only these
        shards = [
            make(x, y, w, int(start), prepare)
            for x, y, w, start in zip(*blocks, starts, strict=True)
        ]
        # futures: the shards stay on the workers that computed them; the
        # scheduler keeps their graph, so that a lost shard is recomputed
        self.futures = client.compute(shards)
        for f in self.futures:  # waits without fetching a shard
            error = f.exception()
            if error is not None:
                self.release()
                raise error  # the shard's error (a ValueError naming its rows)
        self.sizes = [int(c) for c in X.chunks[0]]
        self.starts = [int(s) for s in starts]

    def map(self, fn: Callable, *args, per_shard: Sequence | None = None) -> list:
        """[fn(shard, *args, extra) for each shard], in shard order; args are sent once."""
        sent = [
            self.client.scatter(a, broadcast=True, hash=False) if _is_big(a) else a for a in args
        ]
        extras = per_shard if per_shard is not None else [None] * len(self.futures)
        # each task runs where its shard is (Dask's work stealing would otherwise
        # move a shard to an idle worker now and then); elsewhere only if that
        # worker is gone, and then the shard is recomputed there
        holders = self.client.who_has(self.futures)
        futures = [
            self.client.submit(
                fn,
                shard,
                *sent,
                extra,
                pure=False,
                workers=list(holders.get(shard.key, ())) or None,
                allow_other_workers=True,
            )
            for shard, extra in zip(self.futures, extras, strict=True)
        ]
        try:
            return self.client.gather(futures)
        except Exception:
            for f in futures:  # report the first failed shard in order, not the first in time
                error = f.exception()
                if error is not None:
                    raise error from None
            raise

    def release(self) -> None:
        self.client.cancel(self.futures)


def _is_big(a) -> bool:
    """Arguments worth sending to each worker once, not embedded in every task."""
    return dask.sizeof.sizeof(a) > 2**16


def _threads(threads: int | None) -> int:
    return threads if threads is not None else distributed.get_worker().state.nthreads


def _reraise_with_rows(shard: Shard, exc: Exception):
    message = f"the shard of {shard.rows()}: {exc}"
    if isinstance(exc, NonFiniteError):
        raise NonFiniteError(message, exc.layer, exc.samples, exc.stage) from None
    raise type(exc)(message) from None


# -- one shard's terms --------------------------------------------------------------------------


def _shard_rows(shard: Shard, options: dict, extra) -> tuple:
    """(X, Y, weights, the other options, grad) of the rows a task asks for.

    extra: None (every row) or (local row indices, the factor of their weights);
    options may hold ``grad`` and ``weight_scale`` (the factor for every row).
    """
    X, Y, sw = shard.X, shard.Y, shard.sw
    options = dict(options)  # the same object may reach several tasks of one process
    grad = options.pop("grad", True)
    scale = options.pop("weight_scale", 1.0)
    if extra is not None:
        idx, scale = extra
        X, Y, sw = X[idx], Y[idx], None if sw is None else sw[idx]
    if scale != 1.0:
        sw = np.full(len(X), scale) if sw is None else sw * scale
    return X, Y, sw, options, grad


def _shard_terms(shard: Shard, params: dict, options: dict, threads, extra) -> tuple:
    """(loss, dV, db, dW, dmu) of the shard's samples, or (loss,) without grad."""
    X, Y, sw, options, grad = _shard_rows(shard, options, extra)
    kwargs = dict(options, W=params.get("W"), mu=params.get("mu"), sample_weight=sw)
    kwargs["threads"] = _threads(threads)
    try:
        if not grad:
            return (F.loss(X, Y, params["V"], params["b"], **kwargs),)
        g = F.loss_and_grad(X, Y, params["V"], params["b"], **kwargs)
    except (ValueError, NonFiniteError) as exc:
        _reraise_with_rows(shard, exc)
    return g.loss, g.dV, g.db, g.dW, g.dmu


def _shard_model_terms(shard: Shard, model: ResNetODE, options: dict, threads, extra) -> tuple:
    """A model's (loss, its gradient in the order of model.parameters()) on the
    shard's samples without the penalties, or (loss,) without grad."""
    X, Y, sw, _, grad = _shard_rows(shard, options, extra)
    try:
        g = model.cost_on(
            X, Y, sample_weight=sw, penalty_scale=0.0, grad=grad, threads=_threads(threads)
        )
    except (ValueError, NonFiniteError) as exc:
        _reraise_with_rows(shard, exc)
    if not grad:
        return (g,)
    return (g.loss, *(getattr(g, "d" + name) for name in model.parameters()))


def _shard_correct(shard: Shard, model: ResNetODE, threads, extra) -> int:
    return int(np.sum(model.predict(shard.X, threads=_threads(threads)) == shard.Y))


def _total(terms: Sequence[tuple], reg: tuple) -> list:
    """The shards' (loss, gradient arrays...) added in shard order (in float64),
    then the regularisers' terms ``reg`` of the same layout, in their dtype."""
    total: list[Any] = [0.0, *(None if a is None else np.zeros(a.shape) for a in reg[1:])]
    for t in [*terms, reg]:
        total[0] += t[0]
        for i, a in enumerate(t[1:], start=1):
            if a is not None:
                total[i] += a
    dtype = reg[1].dtype
    return [float(total[0]), *(None if a is None else a.astype(dtype) for a in total[1:])]


# -- the public functions -----------------------------------------------------------------------


def _regularisers(dtype, d, head, V, b, W, mu, options) -> F.LossGrad:
    """The regularisers' loss and gradients: resode.loss_and_grad on zero samples."""
    X0, Y0 = v.no_samples(dtype, d, head, d if W is None else np.shape(W)[0])
    return F.loss_and_grad(X0, Y0, V, b, head=head, W=W, mu=mu, **options)


def loss_and_grad(
    X: Any,
    Y: Any,
    V: Any,
    b: Any,
    *,
    client: distributed.Client | None = None,
    threads_per_worker: int | None = None,
    head: str = "state",
    W: Any = None,
    mu: Any = None,
    w2: float = 0.0,
    w_head: float = 0.0,
    sample_weight: Any = None,
    **options: Any,
) -> F.LossGrad:
    """:func:`resode.loss_and_grad` with the samples spread over a Dask cluster.

    X and Y are Dask arrays chunked by rows (a row chunk is a shard; Y and the
    weights are rechunked to X's rows) or NumPy arrays (cut into one shard per
    worker). Each shard's loss and gradient are computed on the worker holding
    it; the shards are added in order and the regularisers once, so the result
    is the same for any number of workers and equals the local call up to
    rounding. The other keywords are those of :func:`resode.loss_and_grad`
    (``input_grad`` and the costates are not available: they are N-sized).
    """
    if options.get("input_grad"):
        raise ValueError("input_grad=True is not available distributed (dX is N-sized)")
    threads = options.pop("threads", None)  # the local call's name for the same thing
    threads_per_worker = threads if threads_per_worker is None else threads_per_worker
    client = check_client(client)
    V = np.asarray(V)
    b = np.asarray(b)
    # the shards are validated by resode.loss_and_grad on their workers
    data = ShardedData(client, X, Y, sample_weight, _unchanged)
    try:
        params = {"V": V, "b": b, "W": W, "mu": mu}
        cost = dict(options, head=head, w2=0.0, w_head=0.0)
        terms = data.map(_shard_terms, params, cost, threads_per_worker)
    finally:
        data.release()
    dtype = v.compute_dtype(np.zeros(0, dtype=X.dtype))
    reg = _regularisers(dtype, X.shape[1], head, V, b, W, mu, dict(options, w2=w2, w_head=w_head))
    return F.LossGrad(*_total(terms, (reg.loss, reg.dV, reg.db, reg.dW, reg.dmu)))


class ShardedObjective:
    """``training._Objective`` over shards on a cluster: the mean cost J/N of a
    model, its mini-batch estimates, the loss and the accuracy."""

    def __init__(self, model: ResNetODE, X, Y, sample_weight, client, threads):
        self.model, self.threads = model, threads
        self.data = ShardedData(client, X, Y, sample_weight, _Prepare(model))
        self.n = self.data.n
        if self.n == 0:
            raise ValueError("X has no samples to train on")

    @overload
    def _penalties(self, grad: Literal[True]) -> F.LossGrad: ...
    @overload
    def _penalties(self, grad: Literal[False]) -> float: ...
    def _penalties(self, grad: bool) -> F.LossGrad | float:
        """The penalties of J/N: the model's cost on zero samples."""
        m = self.model
        features = m.dim if m.input_dim is None else m.input_dim
        X0, Y0 = v.no_samples(m.dtype, features, m.head, m.head_rows or m.dim)
        return m.cost_on(X0, Y0, penalty_scale=1.0 / self.n, grad=grad, threads=self.threads)

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """The epoch's order of the samples (None: as given); a batch is a slice of it."""
        self._order = np.arange(self.n) if order is None else order

    def __call__(self, idx=None, input_grad=False):
        if input_grad:
            raise ValueError("input_grad is not available in resode.distributed")
        if isinstance(idx, slice):
            idx = self._order[idx]
        if idx is None:
            per_shard = None
            options = {"weight_scale": 1.0 / self.n}
        else:
            idx = np.sort(np.asarray(idx))
            bounds = np.searchsorted(idx, np.asarray([*self.data.starts, self.n]))
            scale = 1.0 / len(idx)
            per_shard = [
                (idx[lo:hi] - start, scale)
                for lo, hi, start in zip(bounds[:-1], bounds[1:], self.data.starts, strict=True)
            ]
            options = {}
        m = self.model
        terms = self.data.map(_shard_model_terms, m, options, self.threads, per_shard=per_shard)
        reg = self._penalties(grad=True)
        names = ["d" + name for name in m.parameters()]
        loss, *arrays = _total(terms, (reg.loss, *(getattr(reg, n) for n in names)))
        return F.LossGrad(loss, **dict(zip(names, arrays, strict=True)))

    def grads(self, g) -> dict[str, np.ndarray]:
        # borrowed: it reads self.model alone, which both objectives have
        return training._Objective.grads(self, g)  # type: ignore[arg-type]

    def mean_loss(self) -> float:
        options = {"weight_scale": 1.0 / self.n, "grad": False}
        terms = self.data.map(_shard_model_terms, self.model, options, self.threads)
        return sum(t[0] for t in terms) + self._penalties(grad=False)

    def accuracy(self) -> float:
        return sum(self.data.map(_shard_correct, self.model, self.threads)) / self.n

    def batch(self, idx=None):
        raise ValueError("the MSA optimisers ('msa', 'emsa') are not available distributed")


def _unchanged(X, Y):
    return X, Y


class _Prepare:
    """Validates a shard on its worker as local fit does: inputs padded to the
    model's dim in its dtype, targets as labels or arrays."""

    def __init__(self, model: ResNetODE):
        self.model = model

    def __call__(self, X, Y):
        m = self.model
        X = m.prepare_inputs(X)
        v._check_finite("X", X)
        if m.head in CLASSIFIER_HEADS:
            assert m.n_classes is not None  # set for the classifier heads
            Y = v.as_labels("Y", Y, len(X), m.n_classes)
        else:
            Y = np.asarray(Y)
        return X, Y


def fit(
    model: ResNetODE,
    X: Any,
    Y: Any,
    *,
    client: distributed.Client | None = None,
    threads_per_worker: int | None = None,
    optimizer: Any = "adam",
    lr: float | Callable[[int], float] | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    sample_weight: Any = None,
    validation_data: tuple | None = None,
    callbacks: Iterable[training.Callback] = (),
    early_stopping: training.EarlyStopping | int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    progress: bool | None = None,
    projection: Callable[[ResNetODE], Any] | None = None,
) -> training.History:
    """:func:`resode.fit` with the training data spread over a Dask cluster.

    X and Y as for :func:`loss_and_grad`. The shards are computed once on the
    workers and stay there; each step sends the parameters (and, for a
    mini-batch, each shard's row indices) and receives the shards' losses and
    gradients. Optimisers as in :func:`resode.fit` but MSA. A mini-batch is drawn
    as in local ``fit`` (the same seed gives the same batches) and each shard
    computes the terms of its rows in it; the batch's indices travel, never the
    data. Full-batch GD and L-BFGS give local ``fit``'s history up to rounding.
    validation_data is evaluated locally on the driver. Progress, callbacks,
    early stopping and Ctrl-C behave as in local ``fit``.
    """
    if isinstance(optimizer, str) and optimizer in ("msa", "emsa"):
        raise ValueError("the MSA optimisers ('msa', 'emsa') are not available distributed")
    client = check_client(client)
    objective = ShardedObjective(model, X, Y, sample_weight, client, threads_per_worker)
    try:
        validation = training.validation_objective(model, validation_data, None)
        return training.train(
            model, objective, validation, optimizer=optimizer, lr=lr, epochs=epochs,
            batch_size=batch_size, callbacks=callbacks, early_stopping=early_stopping,
            shuffle=shuffle, seed=seed, progress=progress, projection=projection,
        )  # fmt: skip
    finally:
        objective.data.release()
