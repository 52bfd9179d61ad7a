"""The scikit-learn estimators: sklearn's check suite, accuracy with defaults, meta-estimators."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.model_selection import (
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import resode
from resode.sklearn import ResNetODEClassifier, ResNetODERegressor

# cheap instances for scikit-learn's check suite (threads=1: the checks fit hundreds of tiny
# models, where OpenMP start-up costs more than it saves)
CHEAP = {"n_layers": 2, "epochs": 30, "threads": 1, "random_state": 0}


@parametrize_with_checks(
    [
        ResNetODEClassifier(**CHEAP),  # Adam, no early stopping (the default)
        ResNetODERegressor(**CHEAP),  # Adam, early stopping (the default)
        # the other combinations, with full-batch L-BFGS
        ResNetODEClassifier(optimizer="lbfgs", early_stopping=True, **CHEAP),
        ResNetODERegressor(optimizer="lbfgs", early_stopping=False, **CHEAP),
    ]
)
def test_sklearn_checks(estimator, check):
    check(estimator)


# -- accuracy with the default hyper-parameters -----------------------------------------------


def test_digits_defaults_accuracy(record_property):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    clf = make_pipeline(StandardScaler(), ResNetODEClassifier(random_state=0))
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = clf.score(X_test, y_test)
    est = clf[-1]
    print(f"digits, defaults: accuracy {accuracy:.4f}, fit {seconds:.2f} s, {est.n_iter_} epochs")
    record_property("digits_accuracy", accuracy)
    record_property("digits_fit_seconds", seconds)
    assert accuracy >= 0.95
    assert est.n_iter_ == len(est.history_) <= est.epochs
    assert est.model_.dim == 48 and est.model_.input_dim == X.shape[1]  # an opening layer
    assert est.model_.head == "softmax"


def test_iris_defaults_accuracy():
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    clf = make_pipeline(StandardScaler(), ResNetODEClassifier(random_state=0)).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


# -- meta-estimators ---------------------------------------------------------------------------


def test_pipeline_grid_search_cross_val_score():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), ResNetODEClassifier(n_layers=3, epochs=40, threads=1, random_state=0)
    )
    grid = GridSearchCV(
        pipe,
        {"resnetodeclassifier__form": ["inner", "outer"], "resnetodeclassifier__T": [0.5, 1.0]},
        cv=3,
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"resnetodeclassifier__form", "resnetodeclassifier__T"}
    assert grid.best_score_ > 0.8
    assert grid.predict(X[:5]).shape == (5,)

    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8

    Xr, yr = make_regression(n_samples=120, n_features=5, noise=1.0, random_state=0)
    reg = make_pipeline(
        StandardScaler(), ResNetODERegressor(n_layers=3, epochs=60, threads=1, random_state=0)
    )
    r2 = cross_val_score(reg, Xr, yr, cv=3)
    assert r2.mean() > 0.8


# -- the trained model -------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = ResNetODEClassifier(n_layers=3, epochs=20, threads=1, random_state=0).fit(X, y)
    path = tmp_path / "clf.npz"
    clf.model_.save(path)
    loaded = resode.load(path)
    assert isinstance(loaded, resode.ResNetODE)
    np.testing.assert_array_equal(clf.classes_[loaded.predict(X)], clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))

    Xr, yr = make_regression(n_samples=50, n_features=4, n_targets=2, random_state=0)
    for target in (yr[:, 0], yr):
        reg = ResNetODERegressor(n_layers=3, epochs=20, threads=1, random_state=0).fit(Xr, target)
        reg.model_.save(tmp_path / "reg.npz")
        loaded = resode.load(tmp_path / "reg.npz")
        expected = reg.predict(Xr)
        np.testing.assert_array_equal(loaded.predict(Xr).reshape(expected.shape), expected)


def test_pickle_clone_and_determinism():
    X, y = load_iris(return_X_y=True)
    clf = ResNetODEClassifier(n_layers=3, epochs=15, threads=1, random_state=3).fit(X, y)
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    # a different seed gives a different network
    other = clone(clf).set_params(random_state=4).fit(X, y)
    assert not np.array_equal(other.decision_function(X), clf.decision_function(X))


# -- classifier specifics ----------------------------------------------------------------------


def test_classifier_labels_and_outputs():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = ResNetODEClassifier(n_layers=3, epochs=30, threads=1, random_state=0).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    assert set(clf.predict(X)) <= set(clf.classes_)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    scores = clf.decision_function(X)
    assert scores.shape == (150, 3)
    np.testing.assert_array_equal(clf.classes_[scores.argmax(axis=1)], clf.predict(X))

    # two classes: 1-D decision function, positive means classes_[1]
    mask = y > 0
    binary = ResNetODEClassifier(n_layers=3, epochs=30, threads=1, random_state=0)
    binary.fit(X[mask], names[mask])
    d = binary.decision_function(X[mask])
    assert d.shape == (mask.sum(),)
    np.testing.assert_array_equal(binary.classes_[(d > 0).astype(int)], binary.predict(X[mask]))
    assert binary.predict_proba(X[mask]).shape == (mask.sum(), 2)


def test_classifier_rejects_a_single_class():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="class"):
        ResNetODEClassifier().fit(X, np.full(10, "a"))


# -- regressor specifics -----------------------------------------------------------------------


def test_regressor_outputs():
    X, y = make_regression(n_samples=80, n_features=3, n_targets=2, noise=0.1, random_state=1)
    y = y + 100.0  # far from zero: normalize_y lets the linear head start at the target mean
    reg = ResNetODERegressor(n_layers=3, epochs=80, threads=1, random_state=0)
    one = reg.fit(X, y[:, 0]).predict(X)
    assert one.shape == (80,) and one.dtype == np.float64
    assert reg.n_outputs_ == 1 and reg.score(X, y[:, 0]) > 0.9
    column = clone(reg).fit(X, y[:, :1]).predict(X)
    assert column.shape == (80, 1)
    two = clone(reg).fit(X, y).predict(X)
    assert two.shape == (80, 2) and two.dtype == np.float64
    assert reg.score(X, y[:, 0]) > 0.9
    assert not hasattr(reg, "predict_proba") and not hasattr(reg, "decision_function")


# -- hyper-parameters --------------------------------------------------------------------------


def test_augmented_dimension_and_early_stopping():
    X, y = load_iris(return_X_y=True)
    clf = ResNetODEClassifier(
        dim=6,
        n_layers=3,
        epochs=300,
        early_stopping=True,
        n_iter_no_change=5,
        threads=1,
        random_state=0,
    ).fit(X, y)
    assert clf.model_.dim == 6 and clf.n_features_in_ == 4
    assert len(clf.history_.val_loss) == clf.n_iter_ < 300
    assert clf.history_.stop_reason == "early_stopping"
    assert clf.score(X, y) > 0.8


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"dim": 2, "opening_activation": None}, ValueError),  # zero-padding needs dim >= p
        ({"dim": 6, "opening_activation": "cosine"}, ValueError),
        ({"epochs": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"learning_rate": -1.0}, ValueError),
        ({"form": "sideways"}, ValueError),
        ({"gamma": 0.1}, ValueError),  # gamma applies only to form='antisymmetric'
        ({"optimizer": "rmsprop"}, ValueError),
        ({"early_stopping": True, "validation_fraction": 1.5}, ValueError),
        ({"early_stopping": "sometimes"}, ValueError),
        ({"early_stopping": 1}, TypeError),
        ({"lr_reductions": "often"}, ValueError),
        ({"lr_reductions": -1}, ValueError),
        ({"n_layers": 2.5}, TypeError),
    ],
)
def test_bad_hyperparameters_raise_at_fit(params, error):
    X, y = load_iris(return_X_y=True)
    clf = ResNetODEClassifier(**params)  # nothing is validated in __init__
    with pytest.raises(error):
        clf.fit(X, y)


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = ResNetODEClassifier(n_layers=2, epochs=5, threads=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    assert isinstance(X, pd.DataFrame)


def test_package_does_not_import_the_sklearn_module():
    import subprocess
    import sys

    code = "import sys, resode; print('resode.sklearn' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("optimizer", ["lbfgs", "gd"])
@pytest.mark.parametrize("Estimator", [ResNetODEClassifier, ResNetODERegressor])
def test_sample_weight_is_repetition_with_full_batches(Estimator, optimizer):
    # the check suite's version of this test fits at most 32 rows, a single Adam batch
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    weights = rng.integers(0, 4, size=60)
    est = Estimator(
        n_layers=3, epochs=25, optimizer=optimizer, early_stopping=False, threads=1, random_state=0
    )
    weighted = clone(est).fit(X, y, sample_weight=weights)
    repeated = clone(est).fit(X.repeat(weights, axis=0), y.repeat(weights))
    assert weighted.n_iter_ == repeated.n_iter_
    method = "predict_proba" if Estimator is ResNetODEClassifier else "predict"
    np.testing.assert_allclose(
        getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-6, atol=1e-9
    )


def test_optimizer_object_is_not_modified():
    from resode.optim import Adam

    X, y = load_iris(return_X_y=True)
    opt = Adam(beta1=0.8)
    clf = ResNetODEClassifier(optimizer=opt, n_layers=2, epochs=5, threads=1, random_state=0)
    clf.fit(X, y)
    assert clf.optimizer is opt and opt.t == 0 and not opt.m
    assert clf.n_iter_ == 5


# -- partial_fit, warm_start and MLP's attributes ---------------------------------------------


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "b", "a")
    return X, y


_FULL_BATCH = dict(batch_size=1000, tol=None, random_state=3, threads=1, dim=5, n_layers=3)


def test_partial_fit_calls_are_one_run_of_fit():
    """With one batch an epoch, k partial_fit calls take Adam's k steps of fit."""
    X, y = _blobs()
    whole = ResNetODEClassifier(epochs=6, **_FULL_BATCH).fit(X, y)
    parts = ResNetODEClassifier(**_FULL_BATCH)
    for _ in range(6):
        parts.partial_fit(X, y, classes=["a", "b"])
    for name, a in whole.model_.parameters().items():
        np.testing.assert_array_equal(parts.model_.parameters()[name], a, err_msg=name)
    assert parts.n_iter_ == 6 and parts.t_ == 6 * len(X)
    np.testing.assert_array_equal(parts.loss_curve_, whole.loss_curve_)


def test_warm_start_goes_on_from_the_fitted_network():
    X, y = _blobs()
    whole = ResNetODEClassifier(epochs=5, **_FULL_BATCH).fit(X, y)
    warm = ResNetODEClassifier(epochs=3, warm_start=True, **_FULL_BATCH).fit(X, y)
    warm.set_params(epochs=2).fit(X, y)
    np.testing.assert_array_equal(warm.model_.V, whole.model_.V)
    assert warm.n_iter_ == 5 and len(warm.loss_curve_) == 5
    cold = ResNetODEClassifier(epochs=2, **_FULL_BATCH).fit(X, y).fit(X, y)
    assert cold.n_iter_ == 2  # without warm_start every fit starts afresh


def test_regressor_partial_fit_keeps_the_target_scaling():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = 100 + 30 * X[:, 0] - 20 * X[:, 1] ** 2
    whole = ResNetODERegressor(epochs=4, early_stopping=False, **_FULL_BATCH).fit(X, y)
    parts = ResNetODERegressor(early_stopping=False, **_FULL_BATCH)
    for _ in range(4):
        parts.partial_fit(X, y)
    np.testing.assert_allclose(parts.predict(X), whole.predict(X), rtol=1e-12)
    with pytest.raises(ValueError, match="2 outputs but the network was trained on 1"):
        parts.partial_fit(X, np.column_stack([y, y]))


def test_mlp_attributes():
    X, y = _blobs(200)
    clf = ResNetODEClassifier(early_stopping=True, n_iter_no_change=3, random_state=0).fit(X, y)
    assert len(clf.loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    np.testing.assert_array_equal(clf.validation_scores_, clf.history_.val_accuracy)
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    assert clf.loss_ == clf.loss_curve_[-1]
    plain = ResNetODEClassifier(epochs=5, random_state=0).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_loss_ == min(plain.loss_curve_)

    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(200, 2))
    reg = ResNetODERegressor(n_iter_no_change=3, random_state=0).fit(Xr, Xr[:, 0] ** 2)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert max(reg.validation_scores_) == reg.best_validation_score_ <= 1.0


def test_early_stopping_auto_holds_out_data_above_10000_samples():
    # the classifier's default: validation data only for large training sets
    assert ResNetODEClassifier().early_stopping == "auto"
    rng = np.random.default_rng(0)
    for n, held_out in [(10_000, False), (10_001, True)]:
        X = rng.normal(size=(n, 2))
        y = (X[:, 0] > 0).astype(int)
        clf = ResNetODEClassifier(dim=4, n_layers=1, epochs=1, batch_size=5000, threads=1)
        clf.fit(X, y)
        assert (clf.validation_scores_ is not None) is held_out


def test_lr_reductions_auto_reduces_once_with_early_stopping():
    # 'auto': one plateau step with held-out data (then a stop), none without it
    X, y = _blobs(200)
    common = dict(dim=4, n_layers=2, epochs=300, n_iter_no_change=2, tol=0.5, random_state=0)
    for early_stopping, rates in [(True, 2), (False, 1)]:
        clf = ResNetODEClassifier(early_stopping=early_stopping, **common).fit(X, y)
        assert clf.history_.stop_reason == "early_stopping"
        lr = np.array(clf.history_.lr)
        assert len(np.unique(lr)) == rates
        if rates == 2:
            np.testing.assert_allclose(lr[-1], 0.1 * lr[0])


def test_partial_fit_errors():
    X, y = _blobs()
    clf = ResNetODEClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match="outside the classes"):
        clf.partial_fit(X, np.where(y == "a", "c", y))
    with pytest.raises(ValueError, match="differ from those"):
        clf.partial_fit(X, y, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :2], y)
    assert not hasattr(ResNetODEClassifier(optimizer="lbfgs"), "partial_fit")
