"""resode.analysis: feature norms, input sensitivity, one-sided Lipschitz constants and the
growth / sensitivity bounds, checked against hand-computed small cases, finite differences
and the inequalities they must satisfy."""

from __future__ import annotations

import numpy as np
import pytest

import resode
from resode import analysis, datasets

FORMS = ("inner", "outer", "symmetric", "antisymmetric")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "leaky_relu", "identity")


def random_net(form, activation="tanh", *, L=3, d=2, N=6, scale=0.8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "X": rng.normal(size=(N, d)),
        "V": scale * rng.normal(size=(L, d, d)),
        "b": 0.5 * rng.normal(size=(L, d)),
        "T": 1.3,
        "form": form,
        "activation": activation,
        "gamma": 0.2 if form == "antisymmetric" else 0.0,
    }


def net_kw(p):
    return {k: p[k] for k in ("T", "form", "activation", "gamma")}


def field_kw(p):
    return {k: p[k] for k in ("form", "activation", "gamma")}


def fd_input_jacobian(p, eps=1e-6):
    """Central differences of the per-layer states w.r.t. the input: (L+1, N, d, d)."""
    X = p["X"]
    cols = []
    for c in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, c] = eps
        plus = resode.trajectory(X + E, p["V"], p["b"], **net_kw(p))
        minus = resode.trajectory(X - E, p["V"], p["b"], **net_kw(p))
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=-1)


# -- vector fields --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_vector_field_is_the_sweeps_field(form, activation):
    # one layer with T = 1: x_2 = x_1 + f_1(x_1), computed by the C++ sweep
    p = random_net(form, activation, L=1, d=3)
    f = analysis.vector_field(p["X"], p["V"][0], p["b"][0], **field_kw(p))
    step = resode.forward(p["X"], p["V"], p["b"], **{**net_kw(p), "T": 1.0}) - p["X"]
    np.testing.assert_allclose(f, step, rtol=1e-12, atol=1e-12)
    all_layers = analysis.vector_field(p["X"], p["V"], p["b"], **field_kw(p))
    assert all_layers.shape == (1, 6, 3)
    np.testing.assert_array_equal(all_layers[0], f)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "identity"])
def test_vector_field_jacobian_matches_finite_differences(form, activation):
    p = random_net(form, activation, L=2, d=3)
    J = analysis.vector_field_jacobian(p["X"], p["V"], p["b"], **field_kw(p))
    assert J.shape == (2, 6, 3, 3)
    eps = 1e-6
    for c in range(3):
        E = np.zeros_like(p["X"])
        E[:, c] = eps
        fp = analysis.vector_field(p["X"] + E, p["V"], p["b"], **field_kw(p))
        fm = analysis.vector_field(p["X"] - E, p["V"], p["b"], **field_kw(p))
        np.testing.assert_allclose(J[..., c], (fp - fm) / (2 * eps), atol=1e-8)


def test_vector_field_hand_case():
    # inner, d = 1: f(x) = v tanh(x) + b, f'(x) = v (1 - tanh(x)^2)
    x = np.array([[0.0], [0.5]])
    f = analysis.vector_field(x, np.array([[2.0]]), np.array([0.25]))
    np.testing.assert_allclose(f[:, 0], 2.0 * np.tanh([0.0, 0.5]) + 0.25)
    J = analysis.vector_field_jacobian(x, np.array([[2.0]]), np.array([0.25]))
    np.testing.assert_allclose(J[:, 0, 0], 2.0 * (1 - np.tanh([0.0, 0.5]) ** 2))
    # relu takes the left derivative at the kink, as the sweeps do
    J = analysis.vector_field_jacobian(
        np.zeros((1, 1)), np.eye(1), np.zeros(1), form="outer", activation="relu"
    )
    assert J[0, 0, 0] == 0.0


# -- feature norms --------------------------------------------------------------------------


def test_feature_norms_hand_case():
    # inner, identity, d = 1, L = 2, T = 1 (h = 1/2): x_{k+1} = x_k + h (v_k x_k + b_k)
    V = np.array([[[1.0]], [[-2.0]]])
    b = np.array([[1.0], [0.0]])
    X = np.array([[2.0], [-1.0]])
    norms = analysis.feature_norms(X, V, b, T=1.0, activation="identity")
    x2 = X[:, 0] + 0.5 * (X[:, 0] + 1.0)  # 3.5, -1.0
    x3 = x2 + 0.5 * (-2.0 * x2)  # 0, 0
    np.testing.assert_allclose(norms, np.abs([X[:, 0], x2, x3]))


@pytest.mark.parametrize("form", FORMS)
def test_feature_norms_are_the_trajectory_norms(form):
    p = random_net(form, L=4, d=3, N=7)
    norms = analysis.feature_norms(p["X"], p["V"], p["b"], **net_kw(p))
    traj = resode.trajectory(p["X"], p["V"], p["b"], **net_kw(p))
    assert norms.shape == (5, 7) and norms.dtype == np.float64
    np.testing.assert_allclose(norms, np.sqrt((traj**2).sum(axis=2)), rtol=1e-14)


def test_shared_parameters_equal_repeated_layers():
    p = random_net("outer", L=2, d=2)
    shared = analysis.feature_norms(p["X"], p["V"], p["b"], n_layers=5, **net_kw(p))
    # 5 layers in 2 groups: m = ceil(5/2) = 3, layers 0-2 use group 0, layers 3-4 group 1
    idx = [0, 0, 0, 1, 1]
    repeated = analysis.feature_norms(p["X"], p["V"][idx], p["b"][idx], **net_kw(p))
    np.testing.assert_array_equal(shared, repeated)
    with pytest.raises(ValueError, match="n_layers"):
        analysis.feature_norms(p["X"], p["V"], p["b"], n_layers=1, **net_kw(p))
    with pytest.raises(ValueError, match="n_layers"):  # 4 groups cannot make 5 layers
        q = random_net("outer", L=4, d=2)
        analysis.feature_norms(q["X"], q["V"], q["b"], n_layers=5, **net_kw(q))


# -- input sensitivity ----------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ["tanh", "softplus", "leaky_relu"])
def test_input_sensitivity_matches_finite_differences(form, activation):
    p = random_net(form, activation, L=3, d=3, N=5)
    J_fd = fd_input_jacobian(p)  # (L+1, N, d, d)
    sigma_fd = np.linalg.svd(J_fd, compute_uv=False)[..., 0]
    sens = analysis.input_sensitivity(p["X"], p["V"], p["b"], **net_kw(p))
    assert sens.shape == (5,)
    np.testing.assert_allclose(sens, sigma_fd[-1], rtol=1e-6)
    per_layer = analysis.input_sensitivity(p["X"], p["V"], p["b"], per_layer=True, **net_kw(p))
    assert per_layer.shape == (4, 5)
    np.testing.assert_allclose(per_layer, sigma_fd, rtol=1e-6)
    np.testing.assert_allclose(per_layer[0], 1.0, rtol=1e-14)


def test_input_sensitivity_hand_case():
    # inner, identity, diagonal V: J = diag(prod_k (1 + h v_kj)), sigma_max = max_j |.|
    V = np.array([np.diag([1.0, -3.0]), np.diag([0.5, -3.0])])
    b = np.zeros((2, 2))
    X = np.array([[0.3, -0.2]])
    h = 0.5
    expect = max(abs((1 + h * 1.0) * (1 + h * 0.5)), abs((1 - 3 * h) ** 2))
    sens = analysis.input_sensitivity(X, V, b, T=1.0, activation="identity")
    np.testing.assert_allclose(sens, [expect], rtol=1e-14)
    per_layer = analysis.input_sensitivity(X, V, b, T=1.0, activation="identity", per_layer=True)
    np.testing.assert_allclose(per_layer[:, 0], [1.0, 1.5, expect], rtol=1e-14)


# -- one-sided Lipschitz constants ----------------------------------------------------------


def test_one_sided_lipschitz_linear_fields_are_exact():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(3, 3, 3))
    b = rng.normal(size=(3, 3))
    # inner with the identity: f = V x + b, nu = lambda_max((V + V^T) / 2)
    lip = analysis.one_sided_lipschitz(V, b, activation="identity", n_samples=20)
    exact = np.linalg.eigvalsh(0.5 * (V + V.transpose(0, 2, 1)))[:, -1]
    np.testing.assert_allclose(lip.estimate, exact, rtol=1e-12)
    np.testing.assert_allclose(lip.bound, exact, rtol=1e-12)
    pairs = analysis.one_sided_lipschitz(V, b, activation="identity", method="pairs")
    assert np.all(pairs.estimate <= exact + 1e-12)
    assert np.all(pairs.estimate >= exact - 0.5)  # random pairs come close
    # symmetric with the identity: f = -V^T (V x + b), nu = -sigma_min(V)^2
    lip = analysis.one_sided_lipschitz(V, b, form="symmetric", activation="identity")
    exact = -(np.linalg.svd(V, compute_uv=False)[:, -1] ** 2)
    np.testing.assert_allclose(lip.estimate, exact, rtol=1e-10)
    np.testing.assert_allclose(lip.bound, exact, rtol=1e-10)


def test_one_sided_lipschitz_skew_matrix_hand_case():
    # Celledoni et al. 2021: a skew-symmetric V still gives a positive constant. inner / tanh,
    # V = [[0, 1], [-1, 0]]: Df = V diag(d1, d2), sym = [[0, (d2 - d1)/2], [., 0]],
    # nu = 1/2 at d = (1, 0)
    V = np.array([[[0.0, 1.0], [-1.0, 0.0]]])
    b = np.zeros((1, 2))
    points = np.array([[0.0, 0.0], [0.0, 30.0], [30.0, 0.0]])
    lip = analysis.one_sided_lipschitz(V, b, points=points)
    np.testing.assert_allclose(lip.bound, [0.5], rtol=1e-14)
    np.testing.assert_allclose(lip.estimate, [0.5], rtol=1e-12)
    # the linear field V x has nu = 0
    lin = analysis.one_sided_lipschitz(V, b, activation="identity", points=points)
    np.testing.assert_allclose(lin.bound, [0.0], atol=1e-15)


def test_one_sided_lipschitz_scalar_hand_cases():
    b = np.zeros((1, 1))
    # inner, tanh, v = -2: f' = -2 (1 - tanh^2) -> 0 from below far out: nu = 0, not attained
    lip = analysis.one_sided_lipschitz(np.array([[[-2.0]]]), b)
    assert lip.bound[0] == 0.0 and -2.0 <= lip.estimate[0] < 0.0
    # v = 3: nu = 3 at x = 0; sigmoid slopes are at most 1/4
    lip = analysis.one_sided_lipschitz(np.array([[[3.0]]]), b, points=np.zeros((1, 1)))
    assert lip.bound[0] == 3.0 and lip.estimate[0] == 3.0
    lip = analysis.one_sided_lipschitz(np.array([[[3.0]]]), b, activation="sigmoid")
    assert lip.bound[0] == 0.75
    # symmetric, leaky_relu (slopes in [0.01, 1]): nu = -0.01 v^2
    lip = analysis.one_sided_lipschitz(
        np.array([[[2.0]]]), b, form="symmetric", activation="leaky_relu"
    )
    np.testing.assert_allclose(lip.bound, [-0.04])
    assert lip.estimate[0] <= lip.bound[0] + 1e-15


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("method", ["jacobian", "pairs"])
def test_one_sided_lipschitz_estimate_below_bound(form, activation, method):
    p = random_net(form, activation, L=3, d=3, scale=1.5, seed=3)
    lip = analysis.one_sided_lipschitz(p["V"], p["b"], method=method, n_samples=300, **field_kw(p))
    assert lip.estimate.shape == lip.bound.shape == (3,)
    assert np.all(lip.estimate <= lip.bound + 1e-12)
    # definition (14) on random pairs holds with the bound
    rng = np.random.default_rng(0)
    x, y = 3 * rng.normal(size=(2, 200, 3))
    fx = analysis.vector_field(x, p["V"], p["b"], **field_kw(p))
    fy = analysis.vector_field(y, p["V"], p["b"], **field_kw(p))
    lhs = np.einsum("kij,ij->ki", fx - fy, x - y)
    assert np.all(lhs <= lip.bound[:, None] * ((x - y) ** 2).sum(axis=1) + 1e-10)


def test_one_sided_lipschitz_relaxed_bound_dominates_vertex_bound(monkeypatch):
    p = random_net("outer", "tanh", L=2, d=4, seed=5)
    exact = analysis.one_sided_lipschitz(p["V"], p["b"], n_samples=10, **field_kw(p)).bound
    monkeypatch.setattr(analysis, "_MAX_VERTEX_DIM", 2)
    relaxed = analysis.one_sided_lipschitz(p["V"], p["b"], n_samples=10, **field_kw(p)).bound
    assert np.all(relaxed >= exact - 1e-12)


def test_one_sided_lipschitz_per_layer_points_and_groups():
    p = random_net("inner", L=2, d=2)
    traj = resode.trajectory(p["X"], p["V"][[0, 0, 1, 1]], p["b"][[0, 0, 1, 1]], **net_kw(p))
    lip = analysis.one_sided_lipschitz(p["V"], p["b"], n_layers=4, points=traj[:-1], **field_kw(p))
    assert lip.estimate.shape == (4,)
    assert lip.bound[0] == lip.bound[1] and lip.bound[2] == lip.bound[3]
    for k in range(4):  # each layer at its own states
        J = analysis.vector_field_jacobian(traj[k], p["V"][k // 2], p["b"][k // 2], **field_kw(p))
        mu = np.linalg.eigvalsh(0.5 * (J + J.transpose(0, 2, 1)))[:, -1].max()
        np.testing.assert_allclose(lip.estimate[k], mu, rtol=1e-14)


def test_one_sided_lipschitz_bad_input():
    V, b = np.zeros((2, 2, 2)), np.zeros((2, 2))
    with pytest.raises(ValueError, match="hamiltonian"):
        analysis.one_sided_lipschitz(V, b, form="hamiltonian")
    with pytest.raises(ValueError, match="method"):
        analysis.one_sided_lipschitz(V, b, method="newton")
    with pytest.raises(ValueError, match="points"):
        analysis.one_sided_lipschitz(V, b, points=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="points"):
        analysis.one_sided_lipschitz(V, b, points=np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="b must"):
        analysis.one_sided_lipschitz(V, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        analysis.one_sided_lipschitz(V, b, colour="red")
    with pytest.raises(ValueError, match="gamma"):
        analysis.one_sided_lipschitz(V, b, gamma=0.1)


# -- growth and sensitivity bounds ----------------------------------------------------------


def test_bounds_are_attained_by_scalar_linear_growth():
    # inner, identity, d = 1, v_k > 0, b_k > 0, x_in > 0: |x_{k+1}| = (1 + h v_k) |x_k| + h b_k
    # exactly the discrete bound; the input Jacobian is prod (1 + h v_k), the sensitivity bound
    V = np.array([[[0.5]], [[2.0]], [[1.0]]])
    b = np.array([[0.3], [0.1], [0.0]])
    X = np.array([[0.7]])
    T = 1.5
    bounds = analysis.stability_bounds(V, b, T=T, activation="identity")
    h = T / 3
    np.testing.assert_allclose(bounds.rate, [0.5, 2.0, 1.0])
    np.testing.assert_allclose(bounds.offset, [0.3, 0.1, 0.0])
    norms = analysis.feature_norms(X, V, b, T=T, activation="identity")
    np.testing.assert_allclose(bounds.growth(norms[0], kind="discrete"), norms, rtol=1e-14)
    sens = analysis.input_sensitivity(X, V, b, T=T, activation="identity", per_layer=True)
    np.testing.assert_allclose(bounds.sensitivity(), sens[:, 0], rtol=1e-14)
    np.testing.assert_allclose(bounds.sensitivity()[-1], (1 + h * 0.5) * (1 + h * 2) * (1 + h))
    # the exponential form (Zhang & Schaeffer 2020, Theorem 3.2) by hand
    exp_growth = (0.7 + h * (0.3 + 0.1 + 0.0)) * np.exp(h * (0.5 + 2.0 + 1.0))
    np.testing.assert_allclose(bounds.growth(0.7, kind="exp")[-1], exp_growth)
    np.testing.assert_allclose(bounds.sensitivity(kind="exp")[-1], np.exp(h * 3.5))


def test_symmetric_bound_hand_case():
    # symmetric, identity, d = 1: x+ = (1 - h v^2) x - h v b; q = max(1, h v^2 - 1)
    T = 1.0
    for v2, L in ((3.0, 1), (1.0, 1), (12.0, 2)):  # h v^2 = 3, 1 and 6
        V = np.full((L, 1, 1), np.sqrt(v2))
        b = np.zeros((L, 1))
        bounds = analysis.stability_bounds(V, b, T=T, form="symmetric", activation="identity")
        h = T / L
        q = max(1.0, h * v2 - 1.0)
        np.testing.assert_allclose(bounds.sensitivity()[-1], q**L)
        sens = analysis.input_sensitivity(
            np.ones((1, 1)), V, b, T=T, form="symmetric", activation="identity"
        )
        np.testing.assert_allclose(sens[0], abs(1 - h * v2) ** L, rtol=1e-14)
        assert sens[0] <= bounds.sensitivity()[-1] + 1e-14
        if h * v2 > 2:  # |1 - h v^2| = h v^2 - 1: the bound is attained
            np.testing.assert_allclose(sens[0], q**L, rtol=1e-14)


def test_symmetric_layers_do_not_expand_under_the_step_condition():
    # Zhang & Schaeffer's ResNet-S: h beta ||V||^2 <= 2 makes every layer nonexpansive, at any depth
    rng = np.random.default_rng(2)
    L, d = 50, 3
    V = rng.normal(size=(L, d, d))
    V *= (np.sqrt(2.0 / (1.0 / L)) / np.linalg.svd(V, compute_uv=False)[:, :1])[:, :, None]
    b = rng.normal(size=(L, d))
    X = rng.normal(size=(20, d))
    bounds = analysis.stability_bounds(V, b, T=1.0, form="symmetric", activation="relu")
    np.testing.assert_allclose(bounds.sensitivity(), 1.0)
    sens = analysis.input_sensitivity(
        X, V, b, T=1.0, form="symmetric", activation="relu", per_layer=True
    )
    assert sens.max() <= 1.0 + 1e-12
    Y = X + 1e-3 * rng.normal(size=X.shape)
    kw = {"T": 1.0, "form": "symmetric", "activation": "relu"}
    gap = np.linalg.norm(resode.forward(X, V, b, **kw) - resode.forward(Y, V, b, **kw), axis=1)
    assert np.all(gap <= np.linalg.norm(X - Y, axis=1) * (1 + 1e-12))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_measured_values_never_exceed_the_bounds(form, activation):
    p = random_net(form, activation, L=6, d=3, N=40, scale=1.2, seed=7)
    kw = net_kw(p)
    bounds = analysis.stability_bounds(p["V"], p["b"], **kw)
    norms = analysis.feature_norms(p["X"], p["V"], p["b"], **kw)
    sens = analysis.input_sensitivity(p["X"], p["V"], p["b"], per_layer=True, **kw)
    g, g_exp = bounds.growth(norms[0]), bounds.growth(norms[0], kind="exp")
    s, s_exp = bounds.sensitivity(), bounds.sensitivity(kind="exp")
    tol = 1e-12
    assert np.all(norms <= g * (1 + tol)) and np.all(g <= g_exp * (1 + tol))
    assert np.all(sens <= s[:, None] * (1 + tol)) and np.all(s <= s_exp * (1 + tol))
    # the sensitivity bound is a Lipschitz constant of the whole network
    rng = np.random.default_rng(0)
    Y = p["X"] + rng.normal(size=p["X"].shape)
    gap = np.linalg.norm(
        resode.forward(p["X"], p["V"], p["b"], **kw) - resode.forward(Y, p["V"], p["b"], **kw),
        axis=1,
    )
    assert np.all(gap <= s[-1] * np.linalg.norm(p["X"] - Y, axis=1) * (1 + tol))
    # Frobenius norms bound the spectral ones, so their bounds are weaker
    fro = analysis.stability_bounds(p["V"], p["b"], norm="fro", **kw)
    assert np.all(fro.sensitivity() >= s * (1 - tol))
    assert np.all(fro.growth(norms[0]) >= g * (1 - tol))


def test_stability_bounds_with_groups_and_bad_input():
    p = random_net("outer", L=2, d=2)
    grouped = analysis.stability_bounds(p["V"], p["b"], n_layers=4, **net_kw(p))
    flat = analysis.stability_bounds(p["V"][[0, 0, 1, 1]], p["b"][[0, 0, 1, 1]], **net_kw(p))
    np.testing.assert_array_equal(grouped.rate, flat.rate)
    assert grouped.h == flat.h == 1.3 / 4
    with pytest.raises(ValueError, match="resnet_d"):
        analysis.stability_bounds(p["V"], p["b"], form="resnet_d")
    with pytest.raises(ValueError, match="norm"):
        analysis.stability_bounds(p["V"], p["b"], norm="nuclear")
    with pytest.raises(ValueError, match="Euler"):
        analysis.stability_bounds(p["V"], p["b"], scheme="rk4")
    with pytest.raises(ValueError, match="kind"):
        grouped.sensitivity(kind="continuous")
    with pytest.raises(ValueError, match="input_norm"):
        grouped.growth(-1.0)
    with pytest.raises(ValueError, match="shape"):
        analysis.stability_bounds(np.zeros((2, 2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        analysis.stability_bounds(np.full((1, 2, 2), np.inf), np.zeros((1, 2)))


# -- the report on a model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    X, y = datasets.rings(120, seed=0)
    model = resode.ResNetODE(3, 6, T=2.0, head="softmax", n_classes=2, seed=0, init_scale=0.5)
    model.fit(X, y, epochs=15, seed=0, progress=False)
    return model, X, y


def test_stability_report_on_a_model(trained):
    model, X, _ = trained
    report = analysis.stability_report(model, X)
    L, N = model.n_layers, len(X)
    assert report.feature_norms.shape == report.sensitivity.shape == (L + 1, N)
    assert report.growth_bound.shape == (L + 1, N) and report.sensitivity_bound.shape == (L + 1,)
    np.testing.assert_allclose(report.t, np.linspace(0, model.T, L + 1))
    Xp = model.prepare_inputs(X)
    net = analysis.network(model)
    np.testing.assert_array_equal(report.feature_norms, analysis.feature_norms(Xp, **net))
    np.testing.assert_allclose(
        report.sensitivity, analysis.input_sensitivity(Xp, per_layer=True, **net), rtol=1e-12
    )
    tol = 1 + 1e-12
    assert np.all(report.feature_norms <= report.growth_bound * tol)
    assert np.all(report.growth_bound <= report.growth_bound_exp * tol)
    assert np.all(report.sensitivity <= report.sensitivity_bound[:, None] * tol)
    assert np.all(report.lipschitz.estimate <= report.lipschitz.bound + 1e-12)
    text = str(report)
    assert "exp bound" in text and f"L={L}" in text
    assert len(report.table(max_rows=3).splitlines()) == 3 + 3  # description, header, rule
    assert "StabilityReport" in repr(report)


def test_network_and_report_errors(trained):
    model, X, _ = trained
    net = analysis.network(model)
    assert set(net) >= {"V", "b", "T", "form", "activation", "gamma", "n_layers"}
    with pytest.raises(TypeError, match="ResNetODE"):
        analysis.network(object())
    with pytest.raises(TypeError, match="ResNetODE"):
        analysis.stability_report("model", X)
    with pytest.raises(ValueError, match="features"):
        analysis.stability_report(model, np.zeros((3, 5)))


def test_stability_plot(trained, tmp_path):
    pytest.importorskip("matplotlib")
    from resode import plot

    model, X, _ = trained
    fig = plot.stability(model, X, save=tmp_path / "stability.png", dpi=40)
    assert (tmp_path / "stability.png").stat().st_size > 5_000
    assert isinstance(fig.report, analysis.StabilityReport)
    assert len(fig.axes) == 3
    again = plot.stability(fig.report)  # from a report: the same data
    assert again.report is fig.report
    lip = analysis.one_sided_lipschitz(**analysis.network(model), n_samples=50)
    fig = plot.lipschitz(lip, T=model.T, save=tmp_path / "lip.png", dpi=40)
    assert (tmp_path / "lip.png").stat().st_size > 2_000
    with pytest.raises(ValueError, match="X"):
        plot.stability(model)
    with pytest.raises(TypeError, match="OneSidedLipschitz"):
        plot.lipschitz(np.zeros(3))


def test_report_of_a_shared_model_equals_the_expanded_model(trained):
    _, X, _ = trained
    shared = resode.ResNetODE(
        3, 6, T=2.0, share=3, head="softmax", n_classes=2, seed=1, init_scale=0.7
    )
    flat = resode.ResNetODE(3, 6, T=2.0, head="softmax", n_classes=2)
    flat.set_parameters(V=np.repeat(shared.V, 3, axis=0), b=np.repeat(shared.b, 3, axis=0))
    a, b = analysis.stability_report(shared, X), analysis.stability_report(flat, X)
    np.testing.assert_allclose(a.feature_norms, b.feature_norms, rtol=1e-14)
    np.testing.assert_allclose(a.sensitivity, b.sensitivity, rtol=1e-12)
    np.testing.assert_allclose(a.growth_bound, b.growth_bound, rtol=1e-14)
    np.testing.assert_allclose(a.sensitivity_bound, b.sensitivity_bound, rtol=1e-14)
    np.testing.assert_allclose(a.lipschitz.bound, b.lipschitz.bound, rtol=1e-14)


def test_report_with_relu_projection_and_other_schemes(trained):
    _, X, _ = trained
    # Zhang & Schaeffer's post-activation ResNet x_{k+1} = relu(x_k + h f_k(x_k)): bounds still hold
    m = resode.ResNetODE(3, 6, T=2.0, activation="relu", project="relu", seed=2, init_scale=1.0)
    r = analysis.stability_report(m, X)
    assert np.all(r.feature_norms <= r.growth_bound * (1 + 1e-12))
    assert np.all(r.sensitivity <= r.sensitivity_bound[:, None] * (1 + 1e-12))
    with pytest.raises(ValueError, match="Euler"):
        analysis.stability_report(resode.ResNetODE(3, 4, scheme="rk4"), X)
    ham = resode.ResNetODE(4, 4, form="hamiltonian", seed=0)
    with pytest.raises(ValueError, match="hamiltonian"):
        analysis.stability_report(ham, X)
    # the measured quantities run the C++ sweeps for every form
    assert analysis.feature_norms(ham.prepare_inputs(X), **analysis.network(ham)).shape == (5, 120)
