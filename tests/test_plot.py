"""resode.plot: every plot renders headless to a PNG; the numbers behind them are right."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import resode
from resode import datasets, plot


@pytest.fixture(scope="module")
def rings():
    return datasets.rings(200, seed=0)


@pytest.fixture(scope="module")
def trained(rings):
    """A small augmented (dim=3) softmax classifier trained on the rings, and its History."""
    X, y = rings
    m = resode.ResNetODE(3, 10, T=3.0, head="softmax", n_classes=2, seed=0, init_scale=0.5)
    history = m.fit(
        X, y, optimizer="adam", epochs=40, seed=0, progress=False, validation_data=(X, y)
    )
    return m, history


DPI = 40  # small images: fast tests


def assert_png_not_blank(path):
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert float(img.var()) > 0
    rgb = img[..., :3].reshape(-1, 3)
    assert (rgb != rgb[0]).any(axis=1).sum() > 100  # more than one colour, and not just a speck


def test_all_is_exported():
    assert sorted(plot.__all__) == [
        "convergence",
        "decision_regions",
        "depth_study",
        "feature_norm_curves",
        "feature_norms",
        "grid_deformation",
        "lipschitz",
        "multilevel",
        "stability",
        "training_curves",
        "trajectories",
    ]


# -- trajectories ----------------------------------------------------------------------------


def test_trajectories_2d(trained, rings, tmp_path):
    m, _ = trained
    X, y = rings
    path = tmp_path / "traj.png"
    fig = plot.trajectories(m, X, y, max_samples=50, save=path, dpi=DPI)
    assert isinstance(fig, Figure)
    assert_png_not_blank(path)
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = lines.get_segments()
    assert len(segs) == 50 and all(len(s) == m.n_layers + 1 for s in segs)
    # each polyline is a sample's trajectory projected on dims (0, 1)
    traj = m.trajectory(X)
    i = int(np.argmin(np.abs(X - segs[0][0]).sum(axis=1)))  # the sample that starts there
    np.testing.assert_allclose(segs[0], traj[:, i, :2])


def test_trajectories_3d(trained, rings, tmp_path):
    m, _ = trained
    X, y = rings
    path = tmp_path / "traj3d.png"
    fig = plot.trajectories(m, X, y, dims=(0, 1, 2), max_samples=30, save=path, dpi=DPI)
    assert fig.axes[0].name == "3d"
    assert_png_not_blank(path)


def test_trajectories_into_given_axes_and_without_labels(trained, rings):
    m, _ = trained
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    assert plot.trajectories(m, rings[0][:20], ax=ax) is fig
    with pytest.raises(ValueError, match="3-D Axes"):
        plot.trajectories(m, rings[0][:20], dims=(0, 1, 2), ax=ax)


@pytest.mark.parametrize("dims", [(0,), (0, 3), (1, 1), (0, 1, 2, 0)])
def test_trajectories_bad_dims(trained, rings, dims):
    with pytest.raises(ValueError, match="dims"):
        plot.trajectories(trained[0], rings[0], dims=dims)


def test_trajectories_bad_labels(trained, rings):
    with pytest.raises(ValueError, match="labels"):
        plot.trajectories(trained[0], rings[0], rings[1][:-1])


# -- decision regions ------------------------------------------------------------------------


def test_decision_regions_softmax_augmented(trained, rings, tmp_path):
    m, _ = trained  # dim=3 model on 2-feature data: inputs are zero-padded
    X, y = rings
    path = tmp_path / "regions.png"
    fig = plot.decision_regions(m, X, y, resolution=60, save=path, dpi=DPI)
    assert isinstance(fig, Figure)
    assert_png_not_blank(path)
    # the background is the predicted class on the grid
    (image,) = fig.axes[0].images
    classes = np.asarray(image.get_array())
    assert classes.shape == (60, 60)
    assert set(np.unique(classes)) == {0, 1}  # a trained ring classifier predicts both


def test_decision_regions_logistic(rings, tmp_path):
    X, y = rings
    m = resode.ResNetODE(2, 4, head="logistic", seed=1, init_scale=1.0)
    fig = plot.decision_regions(m, X, y, resolution=40, save=tmp_path / "logistic.png", dpi=DPI)
    assert (tmp_path / "logistic.png").stat().st_size > 0
    assert isinstance(fig, Figure)


def test_decision_regions_state_head(rings, tmp_path):
    X, y = rings
    Y = datasets.lecture_targets(y)
    m = resode.ResNetODE(2, 5, head="state", seed=0, init_scale=0.5)
    # targets taken from the target rows y ...
    fig = plot.decision_regions(m, X, Y, resolution=40, save=tmp_path / "state.png", dpi=DPI)
    assert set(np.unique(fig.axes[0].images[0].get_array())) <= {0, 1}
    assert_png_not_blank(tmp_path / "state.png")
    # ... or given explicitly, with integer labels
    fig = plot.decision_regions(m, X, y, targets=datasets.LECTURE_TARGETS, resolution=20)
    assert isinstance(fig, Figure)


def test_decision_regions_state_classes_are_nearest_targets(rings):
    X, y = rings
    m = resode.ResNetODE(2, 3, head="state", seed=0, init_scale=0.5)
    fig = plot.decision_regions(m, X, y, targets=datasets.LECTURE_TARGETS, resolution=7, margin=0)
    classes = np.asarray(fig.axes[0].images[0].get_array())
    gx = np.linspace(X[:, 0].min(), X[:, 0].max(), 7)
    gy = np.linspace(X[:, 1].min(), X[:, 1].max(), 7)
    xx, yy = np.meshgrid(gx, gy)
    out = m.forward(np.column_stack([xx.ravel(), yy.ravel()]))
    d = np.linalg.norm(out[:, None, :] - datasets.LECTURE_TARGETS[None], axis=2)
    np.testing.assert_array_equal(classes.ravel(), d.argmin(axis=1))


def test_decision_regions_errors(trained, rings):
    m, _ = trained
    X, y = rings
    lin = resode.ResNetODE(2, 3, head="linear", seed=0)
    with pytest.raises(ValueError, match="head='linear'"):
        plot.decision_regions(lin, X, y)
    X3 = np.column_stack([X, np.zeros(len(X))])
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot.decision_regions(m, X3, y)
    state = resode.ResNetODE(2, 3, head="state", seed=0)
    with pytest.raises(ValueError, match="targets"):
        plot.decision_regions(state, X, y)
    with pytest.raises(ValueError, match="targets"):
        plot.decision_regions(state, X, y, targets=[[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="targets applies only"):
        plot.decision_regions(m, X, y, targets=datasets.LECTURE_TARGETS)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        plot.decision_regions(m, X, y + 1)
    with pytest.raises(ValueError, match="no samples"):
        plot.decision_regions(m, np.zeros((0, 2)), [])


# -- grid deformation ------------------------------------------------------------------------


def test_grid_deformation(trained, rings, tmp_path):
    m, _ = trained
    X, y = rings
    path = tmp_path / "grid.png"
    fig = plot.grid_deformation(
        m, n_lines=5, points_per_line=30, X=X, labels=y, dims=(0, 1), save=path, dpi=DPI
    )
    assert_png_not_blank(path)
    left, right = fig.axes
    (grid,) = [c for c in left.collections if isinstance(c, LineCollection)]
    (image,) = [c for c in right.collections if isinstance(c, LineCollection)]
    src, dst = grid.get_segments(), image.get_segments()
    assert len(src) == len(dst) == 10 and all(len(s) == 30 for s in src)
    # the right panel is the flow map x_in -> x_{L+1} of the left one
    for a, b in zip(src, dst, strict=True):
        np.testing.assert_allclose(b, m.forward(a)[:, :2], atol=1e-12)
    np.testing.assert_allclose(src[0][:, 0], -1.5)  # first vertical line at xmin


def test_grid_deformation_2d_logistic_draws_head_boundary(tmp_path):
    m = resode.ResNetODE(2, 4, head="logistic", seed=0, init_scale=0.5)
    fig = plot.grid_deformation(m, n_lines=4, points_per_line=10, save=tmp_path / "g.png", dpi=DPI)
    assert any(line.get_label() == "head boundary" for line in fig.axes[1].lines)


def test_grid_deformation_errors(trained):
    m, _ = trained
    with pytest.raises(ValueError, match="bounds"):
        plot.grid_deformation(m, bounds=(1, -1, 0, 1))
    with pytest.raises(ValueError, match="labels need X"):
        plot.grid_deformation(m, labels=[0, 1])
    with pytest.raises(ValueError, match="dim >= 2"):
        plot.grid_deformation(resode.ResNetODE(1, 2))


# -- training curves -------------------------------------------------------------------------


def test_training_curves(trained, tmp_path):
    _, history = trained
    path = tmp_path / "curves.png"
    fig = plot.training_curves(history, save=path, dpi=DPI)
    assert_png_not_blank(path)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2  # training and validation
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history.loss)


def test_training_curves_from_dict_without_accuracy(tmp_path):
    fig = plot.training_curves({"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.25]})
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="no recorded epochs"):
        plot.training_curves(resode.History())
    with pytest.raises(ValueError, match="val_loss"):
        plot.training_curves({"epoch": [1, 2], "loss": [1.0, 0.5], "val_loss": [1.0]})


# -- feature norms ---------------------------------------------------------------------------


def test_feature_norm_curves_shape_and_values():
    norms = plot.feature_norm_curves(2, 6, n_inits=4, init_scales=(0.5, 2.0), n_samples=20)
    assert norms.shape == (2, 4, 7)
    assert np.isfinite(norms).all() and (norms > 0).all()
    # the same inputs for every model: layer 0 is the mean input norm
    X = np.random.default_rng(0).standard_normal((20, 2))
    np.testing.assert_allclose(norms[:, :, 0], np.linalg.norm(X, axis=1).mean())


def test_feature_norm_curves_match_numpy_for_identity_activation():
    d, L, scale, seed = 3, 5, 0.7, 4
    X = np.random.default_rng(99).standard_normal((15, 2))  # 2 features: zero-padded to d
    norms = plot.feature_norm_curves(
        d, L, n_inits=3, init_scales=(scale,), X=X, activation="identity", seed=seed
    )
    for j in range(3):  # initialisation j is ResNetODE(..., seed=seed + 1 + j), h = T/L = 1
        rng = np.random.default_rng(seed + 1 + j)
        V = rng.uniform(-scale, scale, size=(L, d, d))
        b = rng.uniform(-scale, scale, size=(L, d))
        x = np.column_stack([X, np.zeros(len(X))])
        expected = [np.linalg.norm(x, axis=1).mean()]
        for k in range(L):
            x = x + 1.0 * (x @ V[k].T + b[k])  # inner form, identity activation
            expected.append(np.linalg.norm(x, axis=1).mean())
        np.testing.assert_allclose(norms[0, j], expected, rtol=1e-12)


def test_feature_norms_plot(tmp_path):
    path = tmp_path / "norms.png"
    kw = {"n_inits": 5, "init_scales": (0.5, 1.0, 2.0), "n_samples": 20}
    fig = plot.feature_norms(2, 8, save=path, dpi=DPI, **kw)
    assert_png_not_blank(path)
    np.testing.assert_array_equal(fig.feature_norms, plot.feature_norm_curves(2, 8, **kw))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[1].get_ydata(), np.median(fig.feature_norms[1], axis=0))


def test_feature_norm_curves_errors():
    with pytest.raises(ValueError, match="init_scales"):
        plot.feature_norm_curves(2, 3, init_scales=())
    with pytest.raises(ValueError, match="init_scales"):
        plot.feature_norm_curves(2, 3, init_scales=(-1.0,))
    with pytest.raises(ValueError, match="n_inits"):
        plot.feature_norm_curves(2, 3, n_inits=0)
    with pytest.raises(ValueError, match="features"):
        plot.feature_norm_curves(2, 3, X=np.zeros((4, 3)))


# -- environment -----------------------------------------------------------------------------


def test_missing_matplotlib_gives_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'resode\[plot\]'"):
        plot.training_curves({"loss": [1.0]})


def test_plots_from_threads(tmp_path):
    def draw(i):
        path = tmp_path / f"t{i}.png"
        plot.training_curves({"loss": [1.0 / (e + 1) for e in range(10 + i)]}, save=path, dpi=DPI)
        return path

    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(draw, range(4)))
    for p in paths:
        assert_png_not_blank(p)


def test_no_pyplot_and_no_display_needed(tmp_path):
    code = (
        "import sys, resode\n"
        "from resode import plot\n"
        f"plot.feature_norms(2, 3, n_inits=2, n_samples=5, save={str(tmp_path / 'x.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert (tmp_path / "x.png").exists()
