"""Command line: ``python -m resode {demo,train,predict,info}`` (also the ``resode`` script)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any

import numpy as np

from . import _validation as v
from . import datasets
from .functional import build_info, loss, loss_and_grad
from .io import load
from .model import ResNetODE
from .optim import OPTIMIZERS
from .training import fit


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


def _say(*args) -> None:
    print(*args, flush=True)


def _plots(model, X, y, history, folder) -> list[str]:
    """The standard figures of a trained 2-D classifier, as PNGs in folder."""
    try:
        from . import plot
    except ImportError as exc:
        _say(f"plots skipped: {exc}")
        return []
    written = []
    jobs = {
        "training_curves.png": lambda p: plot.training_curves(history, save=p),
        "trajectories.png": lambda p: plot.trajectories(model, X, y, save=p),
        "decision_regions.png": lambda p: plot.decision_regions(model, X, y, save=p),
        "grid_deformation.png": lambda p: plot.grid_deformation(model, X=X, labels=y, save=p),
    }
    for name, draw in jobs.items():
        if name != "training_curves.png" and X.shape[1] != 2:
            continue  # the geometric plots are for 2-D inputs
        path = os.path.join(folder, name)
        draw(path)
        written.append(path)
    return written


def cmd_demo(args) -> int:
    """Train a classifier on the built-in ring data, report, save the model and plots."""
    info = build_info()
    _say(
        f"resode {info['version']}  OpenMP={info['openmp']}  "
        f"threads={args.threads or info['threads']}  ISA: {info['isa']}  SIMD: {info['simd']}"
    )
    X, y = datasets.rings(args.samples, seed=args.seed)
    Xv, yv = datasets.rings(args.samples // 4, seed=args.seed + 1)
    _say(
        f"data: {len(X)} training and {len(Xv)} validation samples of the ring data "
        "(class 0: disk r < 0.5, class 1: annulus 0.7 < r < 1)"
    )
    model = ResNetODE(
        3,
        args.layers,
        T=args.T,
        head="softmax",
        n_classes=2,
        init_scale=0.5,
        w2=1e-4,
        seed=args.seed,
    )
    _say(
        f"model: {model} ({model.n_parameters} parameters); inputs are zero-padded to 3-D "
        "because no flow of the plane can pull a disk out of an annulus"
    )

    # The gradient is exact: compare it with a central difference along a random direction.
    Xp = model.prepare_inputs(X)
    kw: dict[str, Any] = {
        "T": model.T,
        "head": "softmax",
        "W": model.W,
        "mu": model.mu,
        "w2": model.w2,
    }
    g = loss_and_grad(Xp, y, model.V, model.b, **kw)
    rng = np.random.default_rng(args.seed)
    dV, db = rng.normal(size=model.V.shape), rng.normal(size=model.b.shape)
    eps = 1e-6
    fd = (
        loss(Xp, y, model.V + eps * dV, model.b + eps * db, **kw)
        - loss(Xp, y, model.V - eps * dV, model.b - eps * db, **kw)
    ) / (2 * eps)
    adjoint = np.sum(g.dV * dV) + np.sum(g.db * db)
    _say(
        f"gradient check: adjoint {adjoint:.10e}, central difference {fd:.10e} "
        f"(relative difference {abs(adjoint - fd) / abs(fd):.1e})"
    )

    t0 = time.perf_counter()
    every = max(args.epochs // 10, 1)

    def report(epoch, logs, _model):
        if epoch % every == 0 or epoch == args.epochs - 1:
            _say(
                f"epoch {epoch:4d}  loss {logs['loss']:.5f}  accuracy {logs['accuracy']:.3f}  "
                f"val_loss {logs['val_loss']:.5f}  val_accuracy {logs['val_accuracy']:.3f}"
            )

    history = fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=args.lr,
        epochs=args.epochs,
        validation_data=(Xv, yv),
        callbacks=[report],
        seed=args.seed,
        progress=False,
        threads=args.threads,
    )
    seconds = time.perf_counter() - t0
    _say(
        f"trained {len(history)} epochs in {seconds:.2f} s ({history.stop_reason}); "
        f"final training accuracy {history.accuracy[-1]:.3f}, "
        f"validation accuracy {history.val_accuracy[-1]:.3f}"
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.npz")
    model.save(path)
    _say(f"wrote {path}")
    for p in _plots(model, X, y, history, args.out):
        _say(f"wrote {p}")
    return 0


def _read(data: str, target) -> tuple[np.ndarray, np.ndarray | None]:
    if data in datasets.GENERATORS:
        return datasets.GENERATORS[data]()
    return datasets.load_data(data, target=target)


def _target_arg(text: str | None):
    if text is None or text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        return text


@contextlib.contextmanager
def _dask_client(args):
    """None (train here), or a Dask client: of --scheduler, or of a local cluster of
    --workers processes that lives as long as the training."""
    if args.scheduler is None and args.workers is None:
        yield None
        return
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("give --scheduler ADDRESS or --workers N, not both")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--scheduler and --workers need Dask: pip install 'resode[distributed]'"
        ) from None
    with contextlib.ExitStack() as stack:
        if args.scheduler is not None:
            _say(f"connecting to the Dask scheduler at {args.scheduler}")
            client = distributed.Client(args.scheduler, timeout="20s")
        else:
            _say(f"starting a local Dask cluster of {args.workers} worker processes")
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=args.workers, threads_per_worker=args.threads or 1,
                    dashboard_address=None,
                )
            )  # fmt: skip
            client = distributed.Client(cluster)
        stack.enter_context(client)
        yield client


def cmd_train(args) -> int:
    X, y = _read(args.data, _target_arg(args.target_column))
    if y is None:
        raise UsageError(f"{args.data}: no targets to train on")
    classify = y.dtype.kind == "i" and args.head != "linear"
    if classify:
        classes = np.unique(y)
        if not np.array_equal(classes, np.arange(len(classes))):
            raise UsageError(f"class labels must be 0..C-1, got {classes[:10].tolist()}")
        if len(classes) < 2:
            raise UsageError("need at least two classes to train a classifier")
    head = args.head or ("softmax" if classify else "linear")
    dim = args.dim or X.shape[1]
    model = ResNetODE(
        dim,
        args.layers,
        T=args.T,
        form=args.form,
        activation=args.activation,
        scheme=args.scheme,
        project=args.project,
        share=args.share,
        input_dim=None if args.opening is None else X.shape[1],
        opening_activation=args.opening or "identity",
        head=head,
        n_classes=int(y.max()) + 1 if head == "softmax" else None,
        n_outputs=1 if head == "linear" else None,
        w2=args.w2,
        w_head=args.w_head,
        init_scale=args.init_scale,
        seed=args.seed,
    )
    validation = None
    if args.validation_split:
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(X))
        n_val = round(args.validation_split * len(X))
        val, train = order[:n_val], order[n_val:]
        validation, X, y = (X[val], y[val]), X[train], y[train]
    _say(f"training {model} on {len(X)} samples with {args.optimizer}")
    options = dict(
        optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        validation_data=validation, seed=args.seed, progress=None if args.progress else False,
    )  # fmt: skip
    with _dask_client(args) as client:
        if client is None:
            history = fit(model, X, y, threads=args.threads, **options)
        else:
            from .distributed import fit as distributed_fit

            history = distributed_fit(
                model, X, y, client=client, threads_per_worker=args.threads, **options
            )
    last = {k: vals[-1] for k, vals in history.as_dict().items() if vals}
    _say(
        f"done after {len(history)} epochs ({history.stop_reason}): "
        + ", ".join(
            f"{k} {last[k]:.5g}"
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if k in last
        )
    )
    model.save(args.out)
    _say(f"wrote {args.out}")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for p in _plots(model, X, y, history, args.plots):
            _say(f"wrote {p}")
    return 0


def cmd_predict(args) -> int:
    model = load(args.model)
    X, y = _read(args.data, _target_arg(args.target_column))
    pred = model.predict(X, threads=args.threads)
    table = pred.reshape(len(pred), -1)
    out = open(args.out, "w") if args.out else sys.stdout
    try:
        np.savetxt(out, table, delimiter=",", fmt="%d" if table.dtype.kind == "i" else "%.17g")
    finally:
        if args.out:
            out.close()
    if y is not None and model.head in ("softmax", "logistic"):
        print(f"accuracy {np.mean(pred == y):.4f} on {len(y)} samples", file=sys.stderr)
    if args.out:
        print(f"wrote {len(table)} predictions to {args.out}", file=sys.stderr)
    return 0


def cmd_info(args) -> int:
    info = {**build_info(), "numpy": np.__version__, "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:12s} {value}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resode",
        description="ResNets as neural ODEs: train, "
        "predict, and show the build. Run a command with --help.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo", help="train a classifier on the built-in ring data", description=cmd_demo.__doc__
    )
    p.add_argument("--out", default="resode-demo", help="folder for the model and plots")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--T", type=float, default=3.0, help="final time")
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "train",
        help="train a model on a .npz/.csv file or a built-in data set",
        description="Train a ResNet-ODE and save it. Integer targets train a "
        "softmax classifier (labels 0..C-1), other targets a linear regressor.",
    )
    p.add_argument(
        "data", help=f".npz (arrays X, y) or .csv file, or one of {', '.join(datasets.GENERATORS)}"
    )
    p.add_argument("--out", default="model.npz", help="where to save the model")
    p.add_argument(
        "--target-column",
        default="-1",
        help="csv column of the targets: index or header name (default: last)",
    )
    p.add_argument("--dim", type=int, default=None, help="state dimension (default: features)")
    p.add_argument(
        "--opening",
        choices=v.ACTIVATIONS,
        default=None,
        help="an opening layer x_1 = s0(K0 x + c0) with this activation s0 before the flow, "
        "so that --dim is free of the number of features",
    )
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--T", type=float, default=3.0)
    p.add_argument("--form", choices=v.FORMS, default="inner")
    p.add_argument("--activation", choices=v.ACTIVATIONS, default="tanh")
    p.add_argument("--scheme", choices=v.SCHEMES, default="euler", help="integrator of each layer")
    p.add_argument("--project", choices=v.PROJECTIONS, default=None, help="post-activation relu")
    p.add_argument("--share", type=int, default=1, help="layers per parameter group")
    p.add_argument("--head", choices=("softmax", "logistic", "linear"), default=None)
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--w2", type=float, default=1e-4)
    p.add_argument("--w-head", type=float, default=1e-4)
    p.add_argument("--init-scale", type=float, default=0.5)
    p.add_argument("--validation-split", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="threads (per worker on Dask)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="train on an existing Dask cluster (e.g. tcp://host:8786; extra 'distributed')",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="train on a local Dask cluster of N worker processes started for the run",
    )
    p.add_argument("--plots", default=None, help="folder for plots (2-D data)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "predict",
        help="apply a saved model to a file",
        description="Write one prediction per input row as CSV.",
    )
    p.add_argument("model", help="a model saved by 'resode train' or ResNetODE.save")
    p.add_argument("data", help=".npz or .csv inputs")
    p.add_argument(
        "--target-column",
        default="none",
        help="csv column holding targets to leave out (and score against)",
    )
    p.add_argument("--out", default=None, help="csv file for the predictions (default: stdout)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="print the build information")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("resode: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, TypeError, OSError) as exc:
        print(f"resode: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
