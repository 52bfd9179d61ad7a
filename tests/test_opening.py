"""The opening layer x_1 = s0(K0 x + c0) of ResNetODE(input_dim=...): exact
gradients (finite differences and the NumPy reference), training, files,
the command line, and clear errors where it does not apply."""

from __future__ import annotations

import json

import numpy as np
import pytest

import reference
import resode
from resode import ResNetODE


def _model(**kw):
    args = dict(
        dim=3,
        n_layers=4,
        T=1.5,
        input_dim=5,
        opening_activation="tanh",
        head="softmax",
        n_classes=3,
        w2=0.05,
        w_head=0.2,
        init_scale=0.6,
        seed=2,
    )
    args.update(kw)
    dim, n_layers = args.pop("dim"), args.pop("n_layers")
    m = ResNetODE(dim, n_layers, **args)
    m.c0 = np.random.default_rng(7).normal(scale=0.3, size=m.c0.shape).astype(m.dtype)
    return m


def _data(n=30, p=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)), rng.integers(0, n_classes, size=n)


@pytest.mark.parametrize("opening", ["tanh", "identity", "sigmoid", "softplus"])
@pytest.mark.parametrize("dim", [2, 7])
def test_gradients_equal_the_reference(opening, dim):
    m = _model(dim=dim, opening_activation=opening)
    X, y = _data()
    g = m.loss_and_grad(X, y, input_grad=True)
    ref = reference.opening_loss_and_grad(
        X, y, m.K0, m.c0, opening, m.V, m.b, T=m.T, head="softmax", W=m.W, mu=m.mu,
        w2=m.w2, w_head=m.w_head,
    )  # fmt: skip
    assert g.loss == pytest.approx(ref["loss"], rel=1e-12)
    for name in ("dV", "db", "dW", "dmu", "dK0", "dc0", "dX"):
        np.testing.assert_allclose(getattr(g, name), ref[name], rtol=1e-10, atol=1e-13)


def test_gradients_equal_finite_differences():
    m = _model(scheme="rk4", form="symmetric")
    X, y = _data(seed=1)
    g = m.loss_and_grad(X, y, input_grad=True)
    rng = np.random.default_rng(3)
    for name, grad in (("K0", g.dK0), ("c0", g.dc0), ("V", g.dV)):
        direction = rng.normal(size=grad.shape)
        base = getattr(m, name).copy()
        eps = 1e-6

        def at(t, name=name, base=base, direction=direction):
            setattr(m, name, base + t * direction)
            return m.loss(X, y)

        fd = (at(eps) - at(-eps)) / (2 * eps)
        setattr(m, name, base)
        assert np.sum(grad * direction) == pytest.approx(fd, rel=1e-6, abs=1e-9), name
    direction = rng.normal(size=X.shape)
    fd = (m.loss(X + 1e-6 * direction, y) - m.loss(X - 1e-6 * direction, y)) / 2e-6
    assert np.sum(g.dX * direction) == pytest.approx(fd, rel=1e-6)


def test_forward_is_the_flow_of_the_opened_inputs():
    m = _model(dim=4, opening_activation="relu")
    X, _ = _data()
    x1 = np.maximum(X @ m.K0.T + m.c0, 0.0)
    np.testing.assert_allclose(m.initial_states(X), x1, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(m.forward(X), m.flow(m.initial_states(X)))
    np.testing.assert_array_equal(m.trajectory(X)[0], m.initial_states(X))
    np.testing.assert_array_equal(m.trajectory(X)[-1], m.forward(X))
    z = m.decision_function(X)
    np.testing.assert_allclose(z, m.forward(X) @ m.W.T + m.mu, rtol=1e-14)


def test_a_state_wider_or_narrower_than_the_inputs_trains_and_beats_padding():
    """A 2-D state from 4 features (impossible by zero-padding) learns a task that
    needs the features mixed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + X[:, 1] - X[:, 2] + 0.5 * X[:, 3] > 0).astype(int)
    m = ResNetODE(2, 5, input_dim=4, head="softmax", n_classes=2, seed=0, init_scale=0.3)
    K0 = m.K0.copy()
    before = m.accuracy(X, y)
    m.fit(X, y, optimizer="adam", lr=0.05, epochs=60, batch_size=64, seed=0, progress=False)
    assert not np.array_equal(m.K0, K0)  # the opening layer is trained
    assert m.accuracy(X, y) > max(0.95, before)


@pytest.mark.parametrize("optimizer", ["lbfgs", "sgd"])
def test_every_gradient_optimiser_moves_the_opening(optimizer):
    X, y = _data(n=60)
    m = _model()
    K0, c0 = m.K0.copy(), m.c0.copy()
    loss0 = m.loss(X, y)
    m.fit(X, y, optimizer=optimizer, epochs=5, progress=False, seed=0)
    assert not np.array_equal(m.K0, K0) and not np.array_equal(m.c0, c0)
    assert m.loss(X, y) < loss0


def test_msa_is_refused_with_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match=r"opening layer.*gradient optimiser"):
        _model().fit(X, y, optimizer="msa", epochs=1, progress=False)


def test_wrong_number_of_features_names_both_numbers():
    m = _model()
    with pytest.raises(ValueError, match=r"X has 4 features.*input_dim=5"):
        m.predict(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"X has 6 features.*input_dim=5"):
        m.loss(np.zeros((3, 6)), np.zeros(3, dtype=int))


def test_bad_arguments():
    with pytest.raises(ValueError, match="opening_activation"):
        ResNetODE(3, 2, opening_activation="tanh")  # no input_dim
    with pytest.raises(ValueError, match="opening_activation"):
        ResNetODE(3, 2, input_dim=4, opening_activation="cosine")
    with pytest.raises((TypeError, ValueError), match="input_dim"):
        ResNetODE(3, 2, input_dim=0)
    with pytest.raises((TypeError, ValueError), match="input_dim"):
        ResNetODE(3, 2, input_dim=2.5)


def test_float32_model_computes_in_float32():
    m = _model(dtype="float32")
    X, y = _data()
    g = m.loss_and_grad(X, y)
    assert m.K0.dtype == m.c0.dtype == np.float32
    assert g.dK0.dtype == g.dc0.dtype == np.float32
    ref = _model(dtype="float64")
    ref.set_parameters(**{k: a.astype(np.float64) for k, a in m.parameters().items()})
    np.testing.assert_allclose(g.dK0, ref.loss_and_grad(X, y).dK0, rtol=2e-4, atol=2e-5)


def test_round_trip_and_old_files(tmp_path):
    m = _model(dtype="float32")
    path = tmp_path / "m.npz"
    m.save(path)
    back = resode.load(path)
    assert back.config() == m.config()
    for name, a in m.parameters().items():
        assert back.parameters()[name].tobytes() == a.tobytes(), name
    X, _ = _data()
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))

    # a version 2 file (before the opening layer) loads as a model without one
    plain = ResNetODE(3, 2, head="softmax", n_classes=2, seed=0)
    plain.save(path)
    with np.load(path, allow_pickle=False) as data:
        files = {k: data[k] for k in data.files}
    header = json.loads(str(files["header"]))
    assert header["format_version"] == 3
    header["format_version"] = 2
    for key in ("input_dim", "opening_activation"):
        del header["config"][key]
    files["header"] = np.array(json.dumps(header))
    np.savez(path, **files)
    old = resode.load(path)
    assert not old.has_opening and set(old.parameters()) == {"V", "b", "W", "mu"}
    assert old.V.tobytes() == plain.V.tobytes()


def test_a_model_without_opening_draws_its_parameters_as_before():
    """K0 is drawn after every other parameter: seeds keep their meaning."""
    a = ResNetODE(3, 4, head="softmax", n_classes=2, seed=5)
    b = ResNetODE(3, 4, head="softmax", n_classes=2, seed=5, input_dim=6)
    for name in ("V", "b", "W", "mu"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert b.K0.std() == pytest.approx(1 / np.sqrt(6), rel=0.3)


def test_analysis_and_plots_use_the_opened_states(tmp_path):
    pytest.importorskip("matplotlib")
    import resode.plot as rplot

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    m = ResNetODE(3, 4, input_dim=2, opening_activation="tanh", head="softmax", n_classes=2, seed=0)
    from resode.analysis import stability_report

    report = stability_report(m, X)
    np.testing.assert_allclose(
        report.feature_norms[0], np.linalg.norm(m.initial_states(X), axis=1), rtol=1e-12
    )
    rplot.decision_regions(m, X, y, resolution=20, save=tmp_path / "regions.png")
    rplot.trajectories(m, X, y, save=tmp_path / "paths.png")
    rplot.grid_deformation(m, X=X, labels=y, save=tmp_path / "grid.png")
    assert (tmp_path / "regions.png").stat().st_size > 0


def test_opening_bindings_refuse_mismatched_arrays():
    from resode import _core

    X, K0, c0 = np.zeros((5, 3)), np.zeros((4, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="K0"):
        _core.opening_forward(X, np.zeros((4, 2)), c0, "tanh")
    with pytest.raises(ValueError, match="c0"):
        _core.opening_forward(X, K0, np.zeros(3), "tanh")
    with pytest.raises(TypeError, match="dtype"):
        _core.opening_forward(X, K0.astype(np.float32), c0, "tanh")
    x1, z = _core.opening_forward(X, K0, c0, "identity")
    assert x1 is z
    frozen = np.zeros((5, 4))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.opening_backward(X, K0, c0, z, frozen, "tanh", 0.0, False)
    with pytest.raises(ValueError, match="p1"):
        _core.opening_backward(X, K0, c0, z, np.zeros((5, 3)), "tanh", 0.0, False)
