"""Unaligned buffers (np.frombuffer at an odd offset, as from network messages,
Arrow buffers, memory maps or Dask's serialisation) are valid input: every entry
point gives bitwise the result of the same values in an aligned array."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from resode import analysis, msa
from resode import functional as F


def unaligned(a: np.ndarray) -> np.ndarray:
    """A read-only C-contiguous copy of a whose data start one byte past alignment."""
    a = np.ascontiguousarray(a)
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    raw[1:] = np.frombuffer(a.tobytes(), dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


def _same(a, b):
    if isinstance(a, (tuple, list)):
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif hasattr(a, "dV"):
        _same([a.loss, a.dV, a.db, a.dW, a.dmu, a.dX], [b.loss, b.dV, b.db, b.dW, b.dmu, b.dX])
    elif a is None:
        assert b is None
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def data(request):
    dt = request.param
    rng = np.random.default_rng(0)
    n, d, L, m = 40, 4, 5, 3
    return dict(
        X=rng.normal(size=(n, d)).astype(dt),
        Y=rng.normal(size=(n, d)).astype(dt),
        V=(0.4 * rng.normal(size=(L, d, d))).astype(dt),
        b=(0.2 * rng.normal(size=(L, d))).astype(dt),
        W=rng.normal(size=(m, d)).astype(dt),
        mu=rng.normal(size=m).astype(dt),
        sample_weight=rng.uniform(0.5, 2.0, n).astype(dt),
        labels=rng.integers(0, m, n),
        P=rng.normal(size=(n, d)).astype(dt),
    )


CALLS = {
    "forward": lambda a: F.forward(a["X"], a["V"], a["b"]),
    "trajectory": lambda a: F.trajectory(a["X"], a["V"], a["b"], scheme="rk4"),
    "loss": lambda a: F.loss(
        a["X"], a["Y"], a["V"], a["b"], w1=0.1, sample_weight=a["sample_weight"]
    ),
    "loss_and_grad": lambda a: F.loss_and_grad(
        a["X"],
        a["labels"],
        a["V"],
        a["b"],
        head="softmax",
        W=a["W"],
        mu=a["mu"],
        sample_weight=a["sample_weight"],
        input_grad=True,
    ),
    "costates": lambda a: F.costates(a["X"], a["Y"], a["V"], a["b"]),
    "jvp": lambda a: F.jvp(a["X"], a["V"], a["b"], dX=a["Y"], dV=a["V"], db=a["b"]),
    "vjp": lambda a: F.vjp(a["X"], a["V"], a["b"], a["Y"]),
    "input_jacobian": lambda a: F.input_jacobian(a["X"], a["V"], a["b"]),
    "layer_hamiltonian": lambda a: F.layer_hamiltonian(a["X"], a["P"], a["V"][0], a["b"][0]),
    "vector_field": lambda a: analysis.vector_field(a["X"], a["V"], a["b"]),
    "feature_norms": lambda a: analysis.feature_norms(a["X"], a["V"], a["b"]),
    "input_sensitivity": lambda a: analysis.input_sensitivity(a["X"], a["V"], a["b"]),
    "msa.layer_step": lambda a: msa.layer_step(
        a["X"], a["P"], a["V"][0], a["b"][0], h=0.2, rho=1.0
    ),
}


@pytest.mark.parametrize("name", CALLS)
def test_functions_take_unaligned_arrays(name, data):
    call = CALLS[name]
    want = call(data)
    for key in data:  # one argument unaligned at a time, then all of them
        _same(call({**data, key: unaligned(data[key])}), want)
    _same(call({k: unaligned(a) for k, a in data.items()}), want)


def test_model_estimator_and_files_take_unaligned_arrays(data, tmp_path):
    X, y = data["X"], data["labels"]
    Xu, yu = unaligned(X), unaligned(y)
    dtype = X.dtype.name

    def trained(X, y):
        model = resode.ResNetODE(4, 5, head="softmax", n_classes=3, seed=0, dtype=dtype)
        model.fit(X, y, optimizer="gd", epochs=3, progress=False)
        return model

    a, b = trained(X, y), trained(Xu, yu)
    _same(b.V, a.V)
    _same(b.predict_proba(Xu), a.predict_proba(X))
    model = resode.ResNetODE(4, 5, head="softmax", n_classes=3, seed=0, dtype=dtype)
    model.set_parameters(V=unaligned(a.V), b=unaligned(a.b), W=unaligned(a.W), mu=unaligned(a.mu))
    _same(model.predict(X), a.predict(X))
    model.save(tmp_path / "m.npz")
    _same(resode.load(tmp_path / "m.npz").predict(Xu), a.predict(X))

    from resode.sklearn import ResNetODEClassifier

    est = ResNetODEClassifier(n_layers=4, epochs=3, random_state=0, threads=1)
    _same(est.fit(Xu, yu).predict(Xu), est.fit(X, y).predict(X))


def test_aligned_contiguous_arrays_are_not_copied(data):
    from resode import _validation as v

    for a in (data["X"], data["labels"]):
        assert np.shares_memory(v.kernel_array(a, a.dtype), a)
    copy = v.kernel_array(unaligned(data["X"]), data["X"].dtype)
    assert copy.flags.aligned and copy.flags.c_contiguous
