"""Saving and loading: exact round trip, no pickle, clear errors on bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import resode
from resode import ResNetODE


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(head="softmax", n_classes=3, form="symmetric", activation="softplus", w2=0.1),
        dict(head="linear", n_outputs=2, form="antisymmetric", gamma=0.3, dtype="float32"),
        dict(head="state", w1=0.2, form="outer", activation="relu"),
        dict(head="logistic", activation="leaky_relu", w_head=0.5),
    ],
)
def test_round_trip_is_exact(tmp_path, kwargs):
    m = ResNetODE(3, 6, T=2.5, seed=1, init_scale=0.8, **kwargs)
    path = tmp_path / "model.npz"
    m.save(path)
    back = resode.load(path)
    assert back.config() == m.config()
    for name, a in m.parameters().items():
        b = back.parameters()[name]
        assert b.dtype == a.dtype and b.tobytes() == a.tobytes()
    X = np.random.default_rng(0).normal(size=(20, 3))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))


def test_the_file_holds_no_pickle(tmp_path):
    m = ResNetODE(2, 3, head="softmax", n_classes=2, seed=0)
    path = tmp_path / "m.npz"
    m.save(path)
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        header = json.loads(str(data["header"]))
        assert all(data[k].dtype != object for k in data.files)
    assert header["format"] == "resode.ResNetODE" and header["format_version"] == 3
    assert header["config"]["n_classes"] == 2


def test_version_1_files_still_load(tmp_path):
    """Version 1 had no scheme, project, share: they load as the Euler defaults."""
    m = ResNetODE(2, 3, head="softmax", n_classes=2, seed=0)
    path = tmp_path / "m.npz"
    m.save(path)
    with np.load(path, allow_pickle=False) as data:
        files = {k: data[k] for k in data.files}
    header = json.loads(str(files["header"]))
    header["format_version"] = 1
    for key in ("scheme", "project", "share"):
        del header["config"][key]
    files["header"] = np.array(json.dumps(header))
    np.savez(path, **files)
    back = resode.load(path)
    assert (back.scheme, back.project, back.share) == ("euler", None, 1)
    assert back.V.tobytes() == m.V.tobytes()


def test_new_forms_round_trip(tmp_path):
    m = ResNetODE(4, 6, form="hamiltonian_hr", scheme="verlet", share=2, project=None, seed=1)
    m.save(tmp_path / "h.npz")
    back = resode.load(tmp_path / "h.npz")
    assert back.config() == m.config() and back.V.tobytes() == m.V.tobytes()


def test_truncated_corrupted_and_foreign_files(tmp_path):
    m = ResNetODE(2, 3, seed=0)
    good = tmp_path / "good.npz"
    m.save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        resode.load(truncated)

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(ValueError, match="not a readable resode model"):
        resode.load(garbage)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, X=np.zeros(3))
    with pytest.raises(ValueError, match="no header"):
        resode.load(foreign)

    with pytest.raises(FileNotFoundError):
        resode.load(tmp_path / "missing.npz")


def _rewrite(src, dst, header=None, drop=(), **extra):
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k not in drop}
    if header is not None:
        arrays["header"] = np.array(json.dumps(header))
    arrays.update(extra)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)


def test_future_version_and_inconsistent_files(tmp_path):
    m = ResNetODE(2, 3, seed=0)
    good = tmp_path / "good.npz"
    m.save(good)
    with np.load(good) as data:
        header = json.loads(str(data["header"]))

    future = tmp_path / "future.npz"
    _rewrite(good, future, header={**header, "format_version": 99})
    with pytest.raises(ValueError, match=r"version 99.*upgrade resode"):
        resode.load(future)

    missing = tmp_path / "missing.npz"
    _rewrite(good, missing, drop=("b",))
    with pytest.raises(ValueError, match="inconsistent"):
        resode.load(missing)

    wrong_shape = tmp_path / "shape.npz"
    _rewrite(good, wrong_shape, V=np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="V has shape"):
        resode.load(wrong_shape)

    bad_config = tmp_path / "config.npz"
    _rewrite(good, bad_config, header={**header, "config": {**header["config"], "form": "x"}})
    with pytest.raises(ValueError, match="form"):
        resode.load(bad_config)

    bad_json = tmp_path / "json.npz"
    _rewrite(good, bad_json, drop=("header",), header=None)
    with np.load(bad_json) as data:
        arrays = {k: data[k] for k in data.files}
    with open(bad_json, "wb") as f:
        np.savez(f, header=np.array("{not json"), **arrays)
    with pytest.raises(ValueError, match="corrupted header"):
        resode.load(bad_json)


def test_a_pickled_array_is_refused(tmp_path):
    m = ResNetODE(2, 3, seed=0)
    good = tmp_path / "good.npz"
    m.save(good)
    evil = tmp_path / "evil.npz"
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["V"] = np.array([object()], dtype=object)
    with zipfile.ZipFile(evil, "w"):
        pass
    with open(evil, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError):
        resode.load(evil)
