"""Built-in data sets and loading user files."""

from __future__ import annotations

import numpy as np
import pytest

from resode import datasets


@pytest.mark.parametrize("name", list(datasets.GENERATORS))
def test_generators_are_seeded_and_balanced(name):
    gen = datasets.GENERATORS[name]
    X, y = gen(300, seed=1)
    assert X.shape == (300, 2) and X.dtype == np.float64 and y.dtype.kind == "i"
    assert set(np.unique(y)) == {0, 1}
    X2, y2 = gen(300, seed=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, gen(300, seed=2)[0])
    assert gen(0)[0].shape == (0, 2)


def test_rings_geometry():
    X, y = datasets.rings(2000, a=0.4, b=0.6, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0].max() <= 0.4 and r[y == 1].min() >= 0.6 and r.max() <= 1.0
    assert abs(np.mean(y) - 0.5) < 1e-12
    with pytest.raises(ValueError):
        datasets.rings(10, a=0.8, b=0.5)


def test_lecture_targets():
    X, y = datasets.lecture(100, seed=0)
    Y = datasets.lecture_targets(y)
    np.testing.assert_array_equal(Y[y == 0], np.tile([0.0, 1.0], (np.sum(y == 0), 1)))
    np.testing.assert_array_equal(Y[y == 1], np.tile([2.0, 1.0], (np.sum(y == 1), 1)))
    np.testing.assert_array_equal(y, X[:, 1] > 0.5 * np.sin(np.pi * X[:, 0]))


def test_load_npz_and_csv(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([0, 1, 1, 0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    X2, y2 = datasets.load_data(tmp_path / "d.npz")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)

    csv = tmp_path / "d.csv"
    csv.write_text(
        "a,b,c,label\n" + "\n".join(",".join(map(str, [*r, t])) for r, t in zip(X, y, strict=True))
    )
    X3, y3 = datasets.load_data(csv)
    np.testing.assert_array_equal(X3, X)
    assert y3.dtype.kind == "i"
    X4, y4 = datasets.load_data(csv, target="a")
    np.testing.assert_array_equal(y4, X[:, 0])
    assert X4.shape == (4, 3)
    X5, y5 = datasets.load_data(csv, target=None)
    assert X5.shape == (4, 4) and y5 is None

    reg = tmp_path / "r.csv"
    reg.write_text("1,2,0.5\n3,4,1.5\n")
    assert datasets.load_data(reg)[1].dtype == np.float64


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        datasets.load_data(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n3,4,x\n")  # a first row of text would be a header
    with pytest.raises(ValueError, match="numeric"):
        datasets.load_data(bad)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        datasets.load_data(tmp_path / "e.csv")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ValueError, match="unsupported"):
        datasets.load_data(tmp_path / "d.json")
    np.savez(tmp_path / "noX.npz", Z=np.zeros(3))
    with pytest.raises(ValueError, match="'X'"):
        datasets.load_data(tmp_path / "noX.npz")
    (tmp_path / "nan.csv").write_text("1,nan,0\n1,2,1\n")
    with pytest.raises(ValueError, match="finite"):
        datasets.load_data(tmp_path / "nan.csv")
