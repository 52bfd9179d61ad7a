"""resode's scikit-learn estimators against scikit-learn's MLP, both with defaults.

For each data set: the same stratified 25 % test split (random_state=0), the
same preprocessing (StandardScaler in a pipeline), ``ResNetODEClassifier`` /
``ResNetODERegressor`` and ``MLPClassifier`` / ``MLPRegressor`` with their
defaults and ``random_state=0``; the test accuracy (R^2 for regression) and the
wall time of ``fit`` (both use the machine's cores: resode its OpenMP threads,
the MLP NumPy's BLAS threads). Each fit is timed once (the fits are long and
deterministic; ``--repeats`` takes the median of more).

    python bench/learners.py --out docs/learners.md          # the whole study
    python bench/learners.py --only digits,iris               # some data sets
    python bench/learners.py --set n_layers=8 --set dim=48    # try other defaults
    python bench/learners.py --only "classification 5e4" --random-state 1   # another seed

``--set`` changes resode's hyper-parameters (the study of the defaults); the
table's header records them.
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from resode.sklearn import ResNetODEClassifier, ResNetODERegressor


@dataclass
class Task:
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    classify: bool


def _classification(n, p, classes=2, seed=0):
    informative = min(p, max(2, p // 2))
    return lambda: datasets.make_classification(
        n_samples=n,
        n_features=p,
        n_informative=informative,
        n_redundant=min(p - informative, 2),
        n_classes=classes,
        n_clusters_per_class=1 if p < 4 else 2,
        random_state=seed,
    )


def _regression(n, p, seed=0):
    return lambda: datasets.make_regression(
        n_samples=n, n_features=p, n_informative=min(p, 10), noise=10.0, random_state=seed
    )


def _bundled(loader):
    return lambda: loader(return_X_y=True)


TASKS = [
    Task("iris", _bundled(datasets.load_iris), True),
    Task("wine", _bundled(datasets.load_wine), True),
    Task("breast_cancer", _bundled(datasets.load_breast_cancer), True),
    Task("digits", _bundled(datasets.load_digits), True),
    Task("classification 1e3 x 2", _classification(1_000, 2), True),
    Task("classification 1e3 x 20", _classification(1_000, 20, 3), True),
    Task("classification 1e4 x 100", _classification(10_000, 100, 4), True),
    Task("classification 5e4 x 20", _classification(50_000, 20, 4), True),
    Task("classification 1e5 x 100", _classification(100_000, 100, 4), True),
    Task("diabetes", _bundled(datasets.load_diabetes), False),
    Task("regression 1e3 x 2", _regression(1_000, 2), False),
    Task("regression 1e4 x 20", _regression(10_000, 20), False),
    Task("regression 1e5 x 100", _regression(100_000, 100), False),
]


def _timed_fit(estimator, X, y, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_task(task: Task, resode_params: dict, repeats: int, seed: int = 0) -> dict:
    X, y = task.load()
    X = np.asarray(X, dtype=np.float64)
    split = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if task.classify else None
    )
    X_train, X_test, y_train, y_test = split
    if task.classify:
        ours = ResNetODEClassifier(random_state=seed, **resode_params)
        theirs = MLPClassifier(random_state=seed)
    else:
        ours = ResNetODERegressor(random_state=seed, **resode_params)
        theirs = MLPRegressor(random_state=seed)
    row = {"data": task.name, "n": len(X), "p": X.shape[1]}
    for key, est in (("resode", ours), ("mlp", theirs)):
        pipe = make_pipeline(StandardScaler(), est)
        row[key + "_time"] = _timed_fit(pipe, X_train, y_train, repeats)
        row[key + "_score"] = float(pipe.score(X_test, y_test))
        row[key + "_epochs"] = int(getattr(est, "n_iter_", 0))
    return row


def table(rows: list[dict], resode_params: dict, seed: int = 0) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in resode_params.items()) or "defaults"
    lines = [
        f"resode ({settings}) against scikit-learn's MLP (defaults), both with "
        f"random_state={seed} after a StandardScaler; test split 25 % (stratified for "
        "classes); score = accuracy (classification) or R^2 (regression), in points "
        "(x 100); fit time in seconds (one fit each), epochs = n_iter_.",
        "",
        "| data (n x p) | resode score | MLP score | difference | resode fit (s) | MLP fit (s) "
        "| time ratio MLP / resode | epochs resode / MLP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = 100 * (r["resode_score"] - r["mlp_score"])
        lines.append(
            f"| {r['data']} ({r['n']} x {r['p']}) | {100 * r['resode_score']:.1f} "
            f"| {100 * r['mlp_score']:.1f} | {diff:+.1f} | {r['resode_time']:.2f} "
            f"| {r['mlp_time']:.2f} | {r['mlp_time'] / r['resode_time']:.2f}x "
            f"| {r['resode_epochs']} / {r['mlp_epochs']} |"
        )
    met = sum(
        100 * (r["resode_score"] - r["mlp_score"]) >= -0.5 and r["resode_time"] <= r["mlp_time"]
        for r in rows
    )
    summary = "Matched or beaten (score within 0.5 points and fit no slower)"
    lines += ["", f"{summary}: {met} of {len(rows)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated data set names (prefixes)")
    parser.add_argument("--set", action="append", default=[], help="resode parameter KEY=VALUE")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--random-state", type=int, default=0, help="both estimators' (the split's stays 0)"
    )
    parser.add_argument("--out", default=None, help="write the markdown table here too")
    args = parser.parse_args(argv)
    params = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    tasks = TASKS
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        tasks = [t for t in TASKS if any(t.name.startswith(w) for w in wanted)]
    rows = []
    for task in tasks:
        row = run_task(task, params, args.repeats, args.random_state)
        rows.append(row)
        print(
            f"{task.name}: resode {row['resode_score']:.4f} in {row['resode_time']:.2f} s "
            f"({row['resode_epochs']} epochs), MLP {row['mlp_score']:.4f} in "
            f"{row['mlp_time']:.2f} s ({row['mlp_epochs']} epochs)",
            flush=True,
        )
    report = table(rows, params, args.random_state)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
