"""Where an estimator's fit spends its time: the C++ kernels against the Python
around them (the training loop, validation, the opening layer, the optimiser).

Fits ``ResNetODEClassifier`` with its defaults on a ``make_classification``
data set and reports the share of the fit spent inside the compiled kernels
and the Python time per mini-batch step, measured two ways: a plain fit with
the compiled calls timed (``time.perf_counter`` around each call of a function
of ``resode._core``: the sweeps, the opening layer, the optimiser step), and a
fit under cProfile, whose own overhead falls on the Python side (so its Python
share is an upper bound) and which names where the Python time goes.

    python bench/learner_profile.py --samples 100000 --features 20
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from resode import _core
from resode.sklearn import ResNetODEClassifier


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5, help="epochs to profile (tol=None)")
    parser.add_argument("--batch-size", default=None, help="the estimator's batch_size")
    args = parser.parse_args(argv)
    X, y = make_classification(
        n_samples=args.samples,
        n_features=args.features,
        n_informative=min(args.features, 10),
        n_classes=4,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    clf = ResNetODEClassifier(random_state=0, epochs=args.epochs, tol=None)
    if args.batch_size is not None:
        clf.set_params(batch_size=int(args.batch_size))
    clf.fit(X, y)  # warm-up
    in_kernels = [0.0]

    def timed(fn):
        def call(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                in_kernels[0] += time.perf_counter() - start

        return call

    # every compiled function: the sweeps, the opening layer, the optimiser step
    saved = {
        name: fn
        for name, fn in vars(_core).items()
        if callable(fn) and not name.startswith("_") and not isinstance(fn, type)
    }
    for name, fn in saved.items():
        setattr(_core, name, timed(fn))
    try:
        start = time.perf_counter()
        clf.fit(X, y)
        plain = time.perf_counter() - start
    finally:
        for name, fn in saved.items():
            setattr(_core, name, fn)
    steps = clf.n_iter_ * -(-len(X) // min(clf.batch_size, len(X)))
    kernel_plain = in_kernels[0]
    print(
        f"plain fit of {len(X)} x {X.shape[1]}, {clf.n_iter_} epochs, {steps} steps: "
        f"{plain:.2f} s; kernels {kernel_plain:.2f} s ({100 * kernel_plain / plain:.0f} %), "
        f"Python {plain - kernel_plain:.2f} s ({100 * (plain - kernel_plain) / plain:.0f} %), "
        f"{1e6 * (plain - kernel_plain) / steps:.0f} us of Python a step"
    )

    profile = cProfile.Profile()
    profile.enable()
    clf.fit(X, y)
    profile.disable()
    stats = pstats.Stats(profile)
    total = max(row[3] for row in stats.stats.values())  # the outermost cumulative time
    kernel = sum(
        row[2]  # own time of the compiled functions
        for (file, _, name), row in stats.stats.items()
        if file == "~" and "resode._core" in name
    )
    python = total - kernel
    print(
        f"under cProfile: {total:.2f} s; kernels {kernel:.2f} s "
        f"({100 * kernel / total:.0f} %), Python {python:.2f} s ({100 * python / total:.0f} %), "
        f"{1e6 * python / steps:.0f} us of Python a step"
    )
    stats.sort_stats("tottime").print_stats(14)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
