"""MSA and extended MSA against gradient descent and Adam, on the lecture example and two moons.

Every optimiser trains the same model from the same initialisation on the full
batch, one step (one MSA iteration) per epoch, through resode.fit. The table
gives the mean cost J/N and the training accuracy after a number of iterations,
and the wall-clock time of the whole run (fit's epoch times, which include the
per-epoch evaluation of loss and accuracy).

    python bench/msa_compare.py                 # 300 iterations, ~1 minute on 2 cores
    python bench/msa_compare.py --epochs 100 --threads 1
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import resode
from resode import ResNetODE, datasets
from resode.optim import MSA, Adam, ExtendedMSA


def lecture():
    """Veldman's lecture notes: state targets (0, 1) / (2, 1), running cost, L = 20, T = 5."""
    X, labels = datasets.lecture(200, seed=0)
    Y = datasets.lecture_targets(labels)

    def model():
        return ResNetODE(2, 20, T=5.0, w1=0.01, w2=1e-3, init_scale=0.5, seed=0)

    def accuracy(m):  # the class whose target is nearer to the final state
        return float(np.mean((m.forward(X)[:, 0] > 1.0) == labels))

    return "lecture (N=200, d=2, L=20, T=5, state head, w1=0.01, w2=1e-3)", X, Y, model, accuracy


def moons():
    X, y = datasets.moons(500, seed=0)

    def model():
        return ResNetODE(2, 20, T=3.0, head="softmax", n_classes=2, w2=1e-3, init_scale=0.5, seed=0)

    return (
        "two moons (N=500, d=2, L=20, T=3, softmax head, w2=1e-3)",
        X,
        y,
        model,
        lambda m: m.accuracy(X, y),
    )


# (name, optimiser, lr on the lecture example, lr on the moons)
OPTIMISERS = [
    ("GD", "gd", 0.2, 0.5),
    ("Adam (full batch)", Adam(), 0.01, 0.01),
    ("MSA, exact layer step", MSA(), None, None),
    ("MSA, 10 gradient steps/layer", MSA(solver="gradient", steps=10), 0.2, 0.5),
    ("E-MSA rho=20, exact layer step", ExtendedMSA(rho=20.0), None, 0.5),
    ("E-MSA rho=20, 10 gradient steps/layer", ExtendedMSA(rho=20.0, solver="gradient"), 0.2, 0.5),
]


def run(problem, checkpoints, threads):
    title, X, Y, make_model, accuracy = problem
    epochs = checkpoints[-1]
    rows = []
    for name, opt, lr_lecture, lr_moons in OPTIMISERS:
        lr = lr_lecture if title.startswith("lecture") else lr_moons
        model = make_model()
        marks, done = {}, [0]

        def record(epoch, logs, m, marks=marks, done=done):
            done[0] = epoch + 1
            if epoch + 1 in checkpoints:
                marks[epoch + 1] = (logs["loss"], accuracy(m))

        t0 = time.perf_counter()
        try:
            h = model.fit(
                X,
                Y,
                optimizer=opt,
                lr=lr,
                epochs=epochs,
                batch_size=len(X),
                callbacks=[record],
                progress=False,
                threads=threads,
            )
            note = "" if h.stop_reason == "completed" else h.stop_reason
        except resode.NonFiniteError:
            note = f"overflow in iteration {done[0] + 1}"
        wall = time.perf_counter() - t0
        rows.append((name, "-" if lr is None else f"{lr:g}", marks, wall, note))
    print(f"\n### {title}\n")
    head = " | ".join(f"it {c}: J/N, acc" for c in checkpoints)
    print(f"| optimiser | lr | {head} | time (s) | note |")
    print("|---|---|" + "---|" * len(checkpoints) + "---|---|")
    for name, lr, marks, wall, note in rows:
        cells = []
        for c in checkpoints:
            if c in marks:
                loss, acc = marks[c]
                cells.append(f"{loss:.3g}, {acc:.3f}" if np.isfinite(loss) else "inf")
            else:
                cells.append("-")
        print(f"| {name} | {lr} | {' | '.join(cells)} | {wall:.2f} | {note} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="iterations per run")
    parser.add_argument("--threads", type=int, default=None)
    opts = parser.parse_args()
    marks = {c for c in (1, 10, 30, 100, 300, 1000) if c < opts.epochs}
    checkpoints = sorted(marks | {opts.epochs})
    info = resode.build_info()
    print(f"# MSA vs GD and Adam (resode {info['version']}, numpy {np.__version__})")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"threads: {opts.threads or info['threads']}; full batch, one step per iteration"
    )
    for problem in (lecture(), moons()):
        run(problem, checkpoints, opts.threads)


if __name__ == "__main__":
    main()
