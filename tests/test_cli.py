"""The command line end to end, in a temporary folder, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import resode
from resode import datasets


def run(*args, cwd=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "resode", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_info():
    out = run("info", "--json").stdout
    assert json.loads(out)["version"] == resode.__version__
    assert "openmp" in run("info").stdout


def test_demo_trains_and_writes_the_model(tmp_path):
    out = run("demo", "--out", tmp_path / "demo", "--samples", 400, "--epochs", 60).stdout
    assert "validation accuracy" in out and "gradient check" in out
    acc = float(out.split("final training accuracy")[1].split(",")[0])
    assert acc >= 0.95
    model = resode.load(tmp_path / "demo" / "model.npz")
    X, y = datasets.rings(400, seed=0)
    assert model.accuracy(X, y) == pytest.approx(acc)


def test_train_then_predict_on_a_csv(tmp_path):
    X, y = datasets.moons(300, seed=0)
    table = np.column_stack([X, y])
    np.savetxt(tmp_path / "moons.csv", table, delimiter=",", header="x1,x2,label", comments="")
    run(
        "train",
        "moons.csv",
        "--out",
        "m.npz",
        "--epochs",
        60,
        "--validation-split",
        0.2,
        cwd=tmp_path,
    )
    model = resode.load(tmp_path / "m.npz")
    assert model.head == "softmax" and model.n_classes == 2
    proc = run(
        "predict", "m.npz", "moons.csv", "--target-column", "label", "--out", "p.csv", cwd=tmp_path
    )
    assert "accuracy" in proc.stderr
    pred = np.loadtxt(tmp_path / "p.csv", delimiter=",")
    np.testing.assert_array_equal(pred, model.predict(X))
    assert np.mean(pred == y) >= 0.95


def test_train_regression_on_an_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    np.savez(tmp_path / "r.npz", X=X, y=np.sin(X[:, 0]) + 0.1 * X[:, 1])
    out = run("train", tmp_path / "r.npz", "--out", tmp_path / "r_model.npz", "--epochs", 30)
    assert "loss" in out.stdout
    assert resode.load(tmp_path / "r_model.npz").head == "linear"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.csv"], "no such file"),
        (["predict", "missing.npz", "x.csv"], "missing.npz"),
        (["train", "moons", "--layers", "0"], "n_layers"),
        (["train", "bad.csv"], "numeric"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("1,a\n2,b\n")
    proc = run(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["demo", "train", "predict", "info"])
def test_help(command):
    assert "usage" in run(command, "--help").stdout


def test_train_a_hamiltonian_network_with_verlet(tmp_path):
    X, y = datasets.moons(200, seed=0)
    np.savez(tmp_path / "moons.npz", X=X, y=y)
    args = ["--dim", 4, "--form", "hamiltonian", "--scheme", "verlet", "--share", 2]
    run("train", "moons.npz", "--out", "h.npz", "--epochs", 20, *args, cwd=tmp_path)
    model = resode.load(tmp_path / "h.npz")
    assert (model.form, model.scheme, model.share) == ("hamiltonian", "verlet", 2)
    assert model.V.shape == (10, 2, 2, 2)
    bad = run("train", "moons.npz", "--scheme", "verlet", cwd=tmp_path, check=False)
    assert bad.returncode != 0 and "scheme" in bad.stderr


def test_train_with_an_opening_layer_then_predict(tmp_path):
    X, y = datasets.moons(200, seed=0)
    np.savez(tmp_path / "moons.npz", X=X, y=y)
    args = ["--dim", 5, "--opening", "tanh", "--epochs", 20]
    run("train", "moons.npz", "--out", "o.npz", *args, cwd=tmp_path)
    model = resode.load(tmp_path / "o.npz")
    assert (model.dim, model.input_dim, model.opening_activation) == (5, 2, "tanh")
    assert model.K0.shape == (5, 2)
    out = run("predict", "o.npz", "moons.npz", cwd=tmp_path)
    predicted = np.array([int(line) for line in out.stdout.split()])
    np.testing.assert_array_equal(predicted, model.predict(X))
