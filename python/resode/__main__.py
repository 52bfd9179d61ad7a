"""Command line: ``python -m resode demo`` (or ``resode demo``)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import datasets
from .functional import build_info, forward, loss, loss_and_grad


def demo(args: argparse.Namespace) -> int:
    """Full-batch gradient descent on the ring data with the lecture's targets."""
    info = build_info()
    threads = args.threads or info["threads"]
    print(
        f"resode {info['version']}  OpenMP={info['openmp']}  threads={threads}  "
        f"SIMD: {info['simd']}"
    )
    X, labels = datasets.rings(args.samples, seed=args.seed)
    Y = datasets.lecture_targets(labels)
    L, d = args.layers, 2
    rng = np.random.default_rng(args.seed)
    V = rng.uniform(-0.5, 0.5, size=(L, d, d))
    b = rng.uniform(-0.5, 0.5, size=(L, d))
    opts = {
        "T": args.T,
        "form": "inner",
        "activation": "tanh",
        "w1": args.w1,
        "w2": args.w2,
        "threads": args.threads,
    }
    print(
        f"data: {len(X)} samples in 2-D; disk r < 0.5 -> target (0, 1), "
        "annulus 0.7 < r < 1 -> target (2, 1)"
    )
    print(
        f"model: inner form, tanh, L={L} layers, T={args.T}; cost: state head, "
        f"w1={args.w1}, w2={args.w2}"
    )

    # The gradient is exact: compare it with a central difference along a random direction.
    g = loss_and_grad(X, Y, V, b, **opts)
    dV, db = rng.normal(size=V.shape), rng.normal(size=b.shape)
    eps = 1e-6
    fd = (
        loss(X, Y, V + eps * dV, b + eps * db, **opts)
        - loss(X, Y, V - eps * dV, b - eps * db, **opts)
    ) / (2 * eps)
    adj = np.sum(g.dV * dV) + np.sum(g.db * db)
    print(
        f"gradient check: adjoint {adj:.10e}, finite difference {fd:.10e}, "
        f"relative difference {abs(adj - fd) / abs(fd):.1e}"
    )

    n = len(X)
    t0 = time.perf_counter()
    for step in range(args.steps + 1):
        g = loss_and_grad(X, Y, V, b, **opts)
        if step % max(args.steps // 10, 1) == 0 or step == args.steps:
            out = forward(X, V, b, T=args.T, threads=args.threads)
            nearest = np.argmin(((out[:, None, :] - datasets.LECTURE_TARGETS) ** 2).sum(-1), axis=1)
            print(
                f"step {step:5d}  mean cost J/N = {g.loss / n:.6f}  "
                f"accuracy (nearest target) = {np.mean(nearest == labels):.3f}"
            )
        V -= args.lr * g.dV / n
        b -= args.lr * g.db / n
    elapsed = time.perf_counter() - t0
    print(
        f"{args.steps + 1} loss+gradient evaluations in {elapsed:.2f} s "
        f"({1e3 * elapsed / (args.steps + 1):.2f} ms each, N={n}, L={L}, d={d})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="resode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train a ResNet-ODE on built-in data and report what it did")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--T", type=float, default=5.0, help="final time")
    p.add_argument("--steps", type=int, default=1500, help="gradient-descent steps")
    p.add_argument("--lr", type=float, default=0.5, help="step size on the mean cost J/N")
    p.add_argument("--w1", type=float, default=0.0)
    p.add_argument("--w2", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
