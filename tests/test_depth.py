"""resode.depth: prolongation keeps the ODE and changes the network by O(h); multilevel
training; the convergence study; the depth study (progress, interruption, results)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import resode
from resode import datasets, depth
from resode.analysis import network


def theta_of_t(V, n_layers, T, t):
    """The parameters as a function of time: layer floor(t / h), its group k // m."""
    G = len(V)
    m = -(-n_layers // G)
    k = np.minimum((t / (T / n_layers)).astype(int), n_layers - 1)
    return V[k // m]


def classifier(L=4, *, dim=3, seed=0, **kw):
    kw = {"T": 2.0, "head": "softmax", "n_classes": 2, "seed": seed, "init_scale": 0.8, **kw}
    return resode.ResNetODE(dim, L, **kw)


@pytest.fixture(scope="module")
def rings():
    return datasets.rings(100, seed=0)


# -- prolongation ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    G=st.integers(1, 5),
    extra=st.integers(0, 6),
    factor=st.integers(1, 4),
)
def test_prolong_parameters_keeps_theta_of_t(G, extra, factor):
    # any L that G groups can serve: m = ceil(L / G) must give exactly G groups
    L = G + extra
    m = -(-L // G)
    if -(-L // m) != G:
        return
    rng = np.random.default_rng(G * 100 + extra)
    V, b = rng.normal(size=(G, 2, 2)), rng.normal(size=(G, 2))
    V2, b2 = depth.prolong_parameters(V, b, factor=factor, n_layers=None if G == L else L)
    T = 1.7
    t = np.linspace(0, T, 997, endpoint=False)
    np.testing.assert_array_equal(
        theta_of_t(V2, factor * L, T, t), theta_of_t(V, L, T, t)
    )  # the same function of time, exactly
    # the fine arrays serve factor * L layers with groups of the same size m
    assert len(V2) == -(-(factor * L) // m) and len(b2) == len(V2)


def test_prolong_parameters_without_groups_repeats_each_layer():
    V = np.arange(3 * 4, dtype=float).reshape(3, 2, 2)
    b = np.arange(6, dtype=float).reshape(3, 2)
    V2, b2 = depth.prolong_parameters(V, b, factor=2)
    np.testing.assert_array_equal(V2, V[[0, 0, 1, 1, 2, 2]])
    np.testing.assert_array_equal(b2, b[[0, 0, 1, 1, 2, 2]])
    # other forms' shapes are repeated along axis 0 alike
    V4 = np.zeros((3, 2, 2, 2))
    assert depth.prolong_parameters(V4, np.zeros((3, 2, 2)), factor=3)[0].shape == (9, 2, 2, 2)
    assert V2.dtype == V.dtype
    with pytest.raises(ValueError, match="factor"):
        depth.prolong_parameters(V, b, factor=0)
    with pytest.raises(ValueError, match="same number"):
        depth.prolong_parameters(V, b[:2])


@pytest.mark.parametrize("form", ["inner", "outer", "symmetric", "antisymmetric"])
def test_prolong_changes_the_network_by_order_h(form, rings):
    X, _ = rings
    gamma = 0.1 if form == "antisymmetric" else 0.0
    coarse = classifier(8, form=form, gamma=gamma, w2=0.1, w_head=0.1)
    V0 = coarse.V.copy()
    fine = depth.prolong(coarse)
    finer = depth.prolong(fine)
    assert np.array_equal(coarse.V, V0)  # not modified
    assert fine.n_layers == 16 and finer.n_layers == 32 and fine.T == coarse.T
    np.testing.assert_array_equal(fine.W, coarse.W)
    # the ODE parameters are unchanged as functions of time
    t = np.linspace(0, coarse.T, 500, endpoint=False)
    for name in ("V", "b"):
        np.testing.assert_array_equal(
            theta_of_t(getattr(fine, name), 16, 2.0, t),
            theta_of_t(getattr(coarse, name), 8, 2.0, t),
        )
    # so is the Tikhonov term (w2 h / 2) sum ||theta_k||^2: the cost of zero samples
    empty, labels = np.zeros((0, 3)), np.zeros(0, dtype=int)
    np.testing.assert_allclose(fine.loss(empty, labels), coarse.loss(empty, labels), rtol=1e-13)
    # the network function changes by O(h) (the Euler error): halving h halves the change
    e1 = np.abs(fine.forward(X) - coarse.forward(X)).max()
    e2 = np.abs(finer.forward(X) - fine.forward(X)).max()
    assert 0 < e2 < e1 < 0.1
    assert 1.6 < e1 / e2 < 2.5


def test_prolong_options(rings):
    X, _ = rings
    m = classifier(3)
    same = depth.prolong(m, 1)
    np.testing.assert_array_equal(same.forward(X), m.forward(X))
    assert depth.prolong(m, 3).n_layers == 9
    with pytest.raises(TypeError, match="ResNetODE"):
        depth.prolong(network(m))
    with pytest.raises(ValueError, match="mode"):
        depth.prolong(m, mode="interpolate")
    uneven = resode.ResNetODE(3, 5, share=2, seed=0)  # groups of 2, 2, 1
    with pytest.raises(ValueError, match="equal size"):
        depth.prolong(uneven, mode="share")


def test_prolong_shared_model(rings):
    X, y = rings
    auto = classifier(4, share=4, w2=0.1)  # autonomous: one V, b
    shared = depth.prolong(auto, mode="share")
    assert shared.share == 8 and shared.n_layers == 8 and shared.n_groups == 1
    np.testing.assert_array_equal(shared.V, auto.V)
    repeated = depth.prolong(auto, mode="repeat")
    assert repeated.share == 4 and len(repeated.V) == repeated.n_groups == 2
    flat = classifier(8)
    flat.set_parameters(V=np.repeat(auto.V, 8, axis=0), b=np.repeat(auto.b, 8, axis=0))
    flat.set_parameters(W=auto.W, mu=auto.mu)
    for model in (shared, repeated):
        np.testing.assert_allclose(model.forward(X), flat.forward(X), rtol=1e-13)
        np.testing.assert_allclose(model.loss(X, y), shared.loss(X, y), rtol=1e-13)
    # uneven groups (2, 2, 1): 'repeat' keeps groups of 2, theta(t) unchanged
    uneven = classifier(5, share=2)
    fine = depth.prolong(uneven)
    assert fine.share == 2 and len(fine.V) == fine.n_groups == 5
    t = np.linspace(0, 2.0, 500, endpoint=False)
    np.testing.assert_array_equal(theta_of_t(fine.V, 10, 2.0, t), theta_of_t(uneven.V, 5, 2.0, t))
    e1 = np.abs(fine.forward(X) - uneven.forward(X)).max()
    assert 0 < e1 < 0.2


@pytest.mark.parametrize(("scheme", "order"), [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_prolong_keeps_the_ode_for_every_scheme(scheme, order, rings):
    # the ODE is the same, so the discrete solutions converge with the scheme's order
    X, y = rings
    conv = depth.convergence(classifier(4, scheme=scheme), X, y, factors=(1, 2, 4, 8))
    assert abs(conv.order("state") - order) < 0.3
    assert abs(conv.order("grad") - order) < 0.5


def test_convergence_gradient_is_the_shared_gradient(rings):
    # Celledoni et al. 2021, eq. 30: the gradient of the refined problem w.r.t. the coarse
    # parameters; the C++ sweep computes it directly when the refined model shares the coarse arrays
    X, y = rings
    m = classifier(4, w2=0.1, w_head=0.01)

    def grad(model):
        g = model.loss_and_grad(X, y)
        return np.concatenate([g.dV.ravel(), g.db.ravel(), g.dW.ravel(), g.dmu.ravel()])

    flat = m.copy()
    fine2 = depth.prolong(flat, 2, mode="repeat")
    fine2.share, fine2.V, fine2.b = 2, m.V.copy(), m.b.copy()  # groups of 2 = coarse layers
    fine8 = fine2.copy()
    fine8.n_layers, fine8.share = 32, 8
    g2, g8 = grad(fine2), grad(fine8)
    conv = depth.convergence(m, X, y, factors=(2,), reference_factor=8)
    np.testing.assert_allclose(
        conv.grad_error[0], np.linalg.norm(g2 - g8) / np.linalg.norm(g8), rtol=1e-10
    )
    np.testing.assert_allclose(conv.loss[0], fine2.loss(X, y) / len(X), rtol=1e-13)
    np.testing.assert_allclose(conv.reference_loss, fine8.loss(X, y) / len(X), rtol=1e-13)


# -- multilevel training --------------------------------------------------------------------


def test_multilevel_fit(rings):
    X, y = rings
    m = classifier(2)
    V0 = m.V.copy()
    result = depth.multilevel_fit(m, X, y, levels=3, epochs=[5, 4, 3], seed=0, progress=False)
    assert np.array_equal(m.V, V0)  # the input model is not trained
    assert result.n_layers == [2, 4, 8] and not result.interrupted
    assert [len(h) for h in result.histories] == [5, 4, 3]
    assert result.model is result.models[-1]
    # level j + 1 starts from the prolongation of level j: its first epoch continues
    # where level j ended (one epoch of training plus the O(h) change apart)
    for coarse, fine_hist in zip(result.histories, result.histories[1:], strict=False):
        assert abs(fine_hist.loss[0] - coarse.loss[-1]) < 0.1 * coarse.loss[-1]
    # equals training by hand
    by_hand = m.copy()
    by_hand.fit(X, y, epochs=5, seed=0, progress=False)
    np.testing.assert_array_equal(by_hand.V, result.models[0].V)
    by_hand = depth.prolong(by_hand)
    by_hand.fit(X, y, epochs=4, seed=0, progress=False)
    np.testing.assert_array_equal(by_hand.V, result.models[1].V)
    assert "Multilevel" in repr(result)


def test_multilevel_fit_interrupted(rings):
    X, y = rings

    def stop_at_level_1(epoch, logs, model):
        if model.n_layers == 4 and epoch == 1:
            raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fit's 'interrupted' warning
        result = depth.multilevel_fit(
            classifier(2), X, y, levels=3, epochs=4, progress=False, callbacks=[stop_at_level_1]
        )
    assert result.interrupted and result.n_layers == [2, 4]
    assert result.histories[-1].stop_reason == "interrupted"
    assert len(result.histories[-1]) == 2  # epochs 0 and 1 (recorded before the callback)


def test_multilevel_fit_bad_input(rings):
    X, y = rings
    with pytest.raises(ValueError, match="epochs"):
        depth.multilevel_fit(classifier(2), X, y, levels=2, epochs=[1, 2, 3], progress=False)
    with pytest.raises(ValueError, match="levels"):
        depth.multilevel_fit(classifier(2), X, y, levels=0, progress=False)
    with pytest.raises(TypeError, match="progress"):
        depth.multilevel_fit(classifier(2), X, y, levels=1, epochs=1, progress="yes")


# -- convergence as L grows, T fixed --------------------------------------------------------


def test_convergence_is_first_order(rings):
    X, y = rings
    m = classifier(4, w2=0.1, w_head=0.01)
    conv = depth.convergence(m, X, y, factors=(1, 2, 4, 8))
    np.testing.assert_array_equal(conv.n_layers, [4, 8, 16, 32])
    np.testing.assert_allclose(conv.h, 2.0 / conv.n_layers)
    assert conv.reference_layers == 128
    for what in ("state", "loss", "grad"):
        assert 0.8 < conv.order(what) < 1.3, (what, conv.order(what))
    assert np.all(np.diff(conv.state_error) < 0) and np.all(
        conv.state_error_max >= conv.state_error
    )
    # factor 1 is the model itself: its cost and gradient
    n = len(X)
    np.testing.assert_allclose(conv.loss[0], m.loss(X, y) / n, rtol=1e-13)
    g = m.loss_and_grad(X, y)
    g1 = depth.convergence(m, X, y, factors=(1,), reference_factor=1)
    assert g1.grad_error[0] == 0.0 and g1.state_error[0] == 0.0
    # the gradient w.r.t. the base parameters of the 2x-refined problem is the sum of its
    # fine layers' gradients: compare with a finite difference of the refined cost
    fine = depth.prolong(m)
    E = np.random.default_rng(0).normal(size=m.V.shape)
    eps = 1e-6
    plus, minus = fine.copy(), fine.copy()
    plus.V = fine.V + eps * np.repeat(E, 2, axis=0)
    minus.V = fine.V - eps * np.repeat(E, 2, axis=0)
    fd = (plus.loss(X, y) - minus.loss(X, y)) / (2 * eps)
    gf = fine.loss_and_grad(X, y)
    coarse_dV = gf.dV.reshape(4, 2, 3, 3).sum(axis=1)
    np.testing.assert_allclose(np.sum(coarse_dV * E), fd, rtol=1e-6)
    assert g.dV.shape == coarse_dV.shape
    text = conv.table()
    assert "observed order" in text and "J/N" in text


def test_convergence_without_targets_and_errors(rings):
    X, _ = rings
    conv = depth.convergence(classifier(2), X, factors=(1, 2, 4))
    assert conv.loss is None and conv.grad_error is None
    assert 0.8 < conv.order() < 1.3
    with pytest.raises(ValueError, match="without Y"):
        conv.order("loss")
    with pytest.raises(ValueError, match="what"):
        conv.order("energy")
    with pytest.raises(ValueError, match="factors"):
        depth.convergence(classifier(2), X, factors=(1, 0))
    with pytest.raises(ValueError, match="empty"):
        depth.convergence(classifier(2), X, factors=())


# -- the depth study ------------------------------------------------------------------------


def test_depth_study(rings, capsys):
    X, y = rings
    Xv, yv = datasets.rings(60, seed=1)
    study = depth.depth_study(
        classifier(4, w2=0.01),
        X,
        y,
        depths=(2, 4, 8),
        epochs=6,
        init_scale=0.8,
        validation_data=(Xv, yv),
        lr=0.05,
        progress=True,
    )
    assert "depth study" in capsys.readouterr().err  # the tqdm bar
    np.testing.assert_array_equal(study.depths, [2, 4, 8])
    assert [len(h) for h in study.histories] == [6, 6, 6] and not study.interrupted
    for i, m in enumerate(study.models):
        assert m.n_layers == study.depths[i] and m.T == 2.0
        np.testing.assert_allclose(study.loss[i], m.loss(X, y) / len(X), rtol=1e-13)
        np.testing.assert_allclose(study.loss[i], study.histories[i].loss[-1], rtol=1e-13)
        assert study.accuracy[i] == m.accuracy(X, y)
        assert study.val_accuracy[i] == m.accuracy(Xv, yv)
        np.testing.assert_allclose(study.val_loss[i], m.loss(Xv, yv) / len(Xv), rtol=1e-13)
        # each depth from its own initialisation (init_scale, seed) of the template
        fresh = resode.ResNetODE(**m.config(), init_scale=0.8, seed=0)
        fresh.fit(X, y, epochs=6, seed=0, lr=0.05, progress=False, validation_data=(Xv, yv))
        np.testing.assert_array_equal(fresh.V, m.V)
    np.testing.assert_array_equal(study.n_parameters, [m.n_parameters for m in study.models])
    conv = study.convergence
    assert conv is not None and conv.base_layers == 2
    np.testing.assert_array_equal(conv.n_layers, [2, 4, 8])
    assert 0.7 < conv.order("state") < 1.4
    text = str(study)
    assert "val loss" in text and "convergence" in text


def test_depth_study_warm_start_and_callable(rings):
    X, y = rings
    study = depth.depth_study(
        lambda L: classifier(L, head="logistic", n_classes=None),
        X,
        y,
        depths=(2, 4),
        epochs=[3, 2],
        warm_start=True,
        convergence_check=False,
        progress=False,
    )
    assert study.convergence is None and study.warm_start
    assert [len(h) for h in study.histories] == [3, 2]
    # the second depth continued from the prolongation of the first
    start = depth.prolong(study.models[0])
    start.fit(X, y, epochs=2, seed=0, progress=False)
    np.testing.assert_array_equal(start.V, study.models[1].V)


def test_depth_study_autonomous_template(rings):
    X, y = rings
    study = depth.depth_study(classifier(2, share=2), X, y, depths=(2, 4), epochs=2, progress=False)
    assert [(m.n_layers, m.share, len(m.V)) for m in study.models] == [(2, 2, 1), (4, 4, 1)]
    assert study.convergence.base_layers == 2 and 0.7 < study.convergence.order() < 1.4


def test_depth_study_regression_head_has_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    Y = np.sin(X)
    template = resode.ResNetODE(2, 2, T=1.0, head="state")
    study = depth.depth_study(template, X, Y, depths=(2, 4), epochs=2, progress=False)
    assert np.isnan(study.accuracy).all() and np.isnan(study.val_loss).all()
    assert np.isfinite(study.loss).all() and study.convergence.loss is not None


def test_depth_study_interrupted(rings):
    X, y = rings

    def stop_at_8(epoch, logs, model):
        if model.n_layers == 8:
            raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        study = depth.depth_study(
            classifier(2), X, y, depths=(2, 4, 8), epochs=2, progress=False, callbacks=[stop_at_8]
        )
    assert study.interrupted and study.convergence is None
    np.testing.assert_array_equal(study.depths, [2, 4])  # the interrupted depth is dropped
    assert len(study.models) == len(study.loss) == 2
    assert "interrupted" in study.table()


def test_depth_study_bad_input(rings):
    X, y = rings
    with pytest.raises(ValueError, match="increasing"):
        depth.depth_study(classifier(2), X, y, depths=(4, 2), progress=False)
    with pytest.raises(ValueError, match="divide"):
        depth.depth_study(classifier(2), X, y, depths=(2, 3), warm_start=True, progress=False)
    with pytest.raises(ValueError, match="depths"):
        depth.depth_study(classifier(2), X, y, depths=(0, 2), progress=False)
    with pytest.raises(TypeError, match="template"):
        depth.depth_study("model", X, y, progress=False)
    with pytest.raises(ValueError, match="n_layers"):
        depth.depth_study(lambda L: classifier(2), X, y, depths=(4,), progress=False)


def test_depth_plots(rings, tmp_path):
    pytest.importorskip("matplotlib")
    from resode import plot

    X, y = rings
    study = depth.depth_study(classifier(2), X, y, depths=(2, 4), epochs=2, progress=False)
    fig = plot.depth_study(study, save=tmp_path / "depth.png", dpi=40)
    assert len(fig.axes) == 3 and (tmp_path / "depth.png").stat().st_size > 5_000
    fig = plot.convergence(study.convergence, save=tmp_path / "conv.png", dpi=40)
    assert (tmp_path / "conv.png").stat().st_size > 2_000
    result = depth.multilevel_fit(classifier(2), X, y, levels=2, epochs=2, progress=False)
    fig = plot.multilevel(result, save=tmp_path / "ml.png", dpi=40)
    assert (tmp_path / "ml.png").stat().st_size > 2_000
    with pytest.raises(TypeError, match="DepthStudy"):
        plot.depth_study(result)
    with pytest.raises(TypeError, match="Convergence"):
        plot.convergence(study)


def test_depth_study_interrupted_outside_fit(rings):
    X, y = rings

    def build(L):
        if L == 4:
            raise KeyboardInterrupt  # e.g. Ctrl-C while a model is being set up
        return classifier(L)

    study = depth.depth_study(build, X, y, depths=(2, 4), epochs=1, progress=False)
    assert study.interrupted and study.depths.tolist() == [2]


SIGINT_SCRIPT = textwrap.dedent(
    """
    import numpy as np, resode, warnings
    from resode import datasets, depth
    warnings.simplefilter("ignore")
    X, y = datasets.rings(4000, seed=0)

    def announce(epoch, logs, model):
        if model.n_layers == 8 and epoch == 0:
            print("second depth", flush=True)

    template = resode.ResNetODE(3, 4, T=2.0, head="softmax", n_classes=2)
    study = depth.depth_study(template, X, y, depths=(4, 8), epochs=[1, 100000],
                              progress=False, callbacks=[announce])
    print("depths", study.depths.tolist(), "interrupted", study.interrupted, flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_depth_study_sigint_returns_partial_results():
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGINT_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "second depth"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert out.strip() == "depths [4] interrupted True", out
    assert proc.returncode == 0


def test_multilevel_fit_share_mode_keeps_the_parameters(rings):
    X, y = rings
    result = depth.multilevel_fit(
        classifier(2, share=2), X, y, levels=3, epochs=1, mode="share", progress=False
    )
    assert [(m.n_layers, m.share, len(m.V)) for m in result.models] == [
        (2, 2, 1),
        (4, 4, 1),
        (8, 8, 1),
    ]
