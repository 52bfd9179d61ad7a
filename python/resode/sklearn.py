"""scikit-learn estimators around :class:`resode.ResNetODE`.

``ResNetODEClassifier`` (softmax head) and ``ResNetODERegressor`` (linear head)
follow the scikit-learn estimator conventions, so they work with ``Pipeline``,
``GridSearchCV``, ``cross_val_score``, ``clone`` and pickling::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from resode.sklearn import ResNetODEClassifier

    clf = make_pipeline(StandardScaler(), ResNetODEClassifier(random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

scikit-learn is an optional dependency (the ``sklearn`` extra); ``import resode``
does not import this module. The networks are not scale invariant: standardise
the inputs (e.g. with ``StandardScaler``) as for any neural network.

The trained network is the ``model_`` attribute, a plain :class:`resode.ResNetODE`
that ``model_.save(path)`` writes and :func:`resode.load` reads back.
"""

from __future__ import annotations

import copy
import hashlib
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from ._errors import NonFiniteError
from .model import ResNetODE
from .optim import LBFGS, make_optimizer
from .training import EarlyStopping, fit

__all__ = ["ResNetODEClassifier", "ResNetODERegressor"]

_SEED_BOUND = np.iinfo(np.int32).max

_PARAMETERS_DOC = """
    dim : int or None, default=48
        State dimension d of the network (its width). None uses the number of
        features. A width other than the number of features puts an opening
        layer ``x_1 = s0(K0 x + c0)`` before the flow (see
        ``opening_activation``), so the width is free of the number of features.
    opening_activation : str or None, default='identity'
        The activation s0 of that opening layer (``'identity'``: a learned linear
        lifting). None instead zero-pads the inputs to ``dim`` (an augmented
        neural ODE; then ``dim`` must be at least the number of features).
    n_layers : int, default=5
        Number of residual layers L (forward-Euler steps).
    T : float, default=1.0
        Final time; the step is ``h = T / n_layers``.
    form : {'symmetric', 'inner', 'outer', 'antisymmetric', 'resnet_d'}, default='symmetric'
        The layer vector field ``f_k`` (as in :class:`resode.ResNetODE`); ``'symmetric'`` is
        ``f(x) = -K^T s(K x + b)``, Haber and Ruthotto's stable layer.
    activation : {'relu', 'tanh', 'sigmoid', 'softplus', 'leaky_relu', 'identity'}, \
default='relu'
        The elementwise nonlinearity of the vector field.
    gamma : float, default=0.0
        Damping of ``form='antisymmetric'`` (must be 0 for the other forms).
    w2 : float, default=1e-4
        Tikhonov weight on the layer parameters ``V, b`` (the term
        ``w2 h / 2 sum_k (|V_k|^2 + |b_k|^2)`` of the cost, per sample).
    w_head : float, default=1e-4
        Tikhonov weight on the head parameters ``W, mu`` and on the opening
        layer's ``K0, c0`` (per sample).
    optimizer : {'adam', 'sgd', 'gd', 'lbfgs'} or optimizer object, default='adam'
        Training algorithm: Adam or momentum SGD on mini-batches, full-batch
        gradient descent, or full-batch L-BFGS (scipy); or a configured
        object from :mod:`resode.optim` (e.g. ``resode.optim.SGD(nesterov=True)``).
    learning_rate : float or None, default=None
        Step size. None uses the optimizer's default (0.01 for Adam, 0.05 for
        SGD, 0.1 for GD); L-BFGS ignores it.
    epochs : int, default=200
        Maximum number of passes over the training data (L-BFGS: iterations),
        the analogue of ``max_iter``; at least 1.
    batch_size : int or None, default=200
        Samples per step of Adam and SGD (capped at the number of samples);
        None means ``min(n_samples, 128)``. GD and L-BFGS always use the full
        batch.
    init : {'uniform', 'normal', 'zeros'}, default='uniform'
        Distribution of the initial parameters.
    init_scale : float, default=0.1
        Scale of the initial parameters (half-width for 'uniform', standard
        deviation for 'normal').
    tol : float or None, default=1e-4
        Convergence tolerance: training stops when the monitored loss (the
        training loss, or the validation loss with ``early_stopping=True``) has
        not improved by at least ``tol`` for ``n_iter_no_change`` consecutive
        epochs. None always runs ``epochs`` epochs (unless ``early_stopping``).
    early_stopping : bool or 'auto', default={early_stopping}
        Hold out ``validation_fraction`` of the training data, monitor its loss
        instead of the training loss, and keep the parameters of the epoch
        with the best validation loss. 'auto' turns it on when the training
        data has more than 10,000 samples (scikit-learn's histogram gradient
        boosting has the same rule).{early_stopping_note}
    validation_fraction : float, default=0.1
        Share of the training rows held out when ``early_stopping=True``, chosen by
        a hash of each row's content seeded by ``random_state``: copies of a row fall
        on the same side, so a sample of weight k is split like k repeated samples.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.
    lr_reductions : int or 'auto', default='auto'
        The first this many times the stopping rule fires, training goes on with
        the learning rate divided by 10 instead of stopping (a plateau
        schedule); 0 stops at the first plateau, as scikit-learn's MLP does.
        'auto' is 1 with early stopping and 0 without: with held-out data the
        parameters of the best validation epoch are kept, so the slower phase
        can only help, while on the training loss it mostly prolongs the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the mini-batch shuffling and the validation
        split. Pass an int for reproducible results.
    threads : int or None, default=None
        OpenMP threads of the C++ kernels; None uses all cores. Results do not
        depend on it.
    verbose : bool, default=False
        Show a progress bar during training (needs tqdm).
    warm_start : bool, default=False
        When fitted, ``fit`` trains the current network further (with the
        optimizer's state) instead of a new one; the data must have the same
        features (and, for the classifier, classes)."""

_REGRESSOR_NOTE = """
        On by default for the regressor: on noisy targets the training error
        keeps falling long after the fit stopped generalising (e.g. on the
        diabetes data), while longer training rarely costs the classifier
        accuracy. Needs at least 2 samples."""


# early_stopping='auto' holds out validation data above this many samples
_AUTO_EARLY_STOPPING_SAMPLES = 10_000


def _parameters_doc(early_stopping: bool | str, note: str) -> str:
    doc = _PARAMETERS_DOC.replace("{early_stopping}", repr(early_stopping))
    return doc.replace("{early_stopping_note}", note)


_ATTRIBUTES_DOC = """
    model_ : resode.ResNetODE
        The trained network.
    history_ : resode.History
        Per-epoch training records (loss, accuracy, validation loss, ...).
    n_iter_ : int
        Number of epochs run (summed over ``partial_fit`` and warm-started ``fit``
        calls).
    t_ : int
        Number of training samples seen (summed likewise).
    loss_curve_ : list of float
        The loss of each epoch (as ``loss_``).
    best_loss_ : float or None
        The smallest value of ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        With ``early_stopping``: the score (accuracy, or R^2 for the regressor) on
        the held-out data after each epoch; else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``; None without ``early_stopping``.
    loss_ : float
        Mean training cost J / N over the last epoch's mini-batches, as they were
        computed during it (as ``MLPClassifier.loss_``; for the regressor with
        ``normalize_y=True``, on the standardised targets).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; defined only when X has string
        feature names (e.g. a pandas DataFrame)."""


class _ResNetODEBase(BaseEstimator):
    """Hyper-parameters and training shared by the classifier and the regressor."""

    # fitted attributes that a later call reads back (set by _record)
    loss_curve_: list[float]
    n_iter_: int
    t_: int
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    best_loss_: float | None

    def __init__(
        self,
        *,
        dim=48,
        opening_activation="identity",
        n_layers=5,
        T=1.0,
        form="symmetric",
        activation="relu",
        gamma=0.0,
        w2=1e-4,
        w_head=1e-4,
        optimizer="adam",
        learning_rate=None,
        epochs=200,
        batch_size=200,
        init="uniform",
        init_scale=0.1,
        tol=1e-4,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        lr_reductions="auto",
        random_state=None,
        threads=None,
        verbose=False,
        warm_start=False,
    ):
        self.dim = dim
        self.opening_activation = opening_activation
        self.n_layers = n_layers
        self.T = T
        self.form = form
        self.activation = activation
        self.gamma = gamma
        self.w2 = w2
        self.w_head = w_head
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.init = init
        self.init_scale = init_scale
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.lr_reductions = lr_reductions
        self.random_state = random_state
        self.threads = threads
        self.verbose = verbose
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    # -- training -------------------------------------------------------------------------------

    def _check_hyperparameters(self, n_samples: int, n_features: int) -> tuple[int, dict]:
        """Validate the estimator-level hyper-parameters; returns the state dimension
        and the opening layer's arguments of ResNetODE.

        The network's own arguments (form, activation, T, gamma, w2, ...) are
        validated by :class:`resode.ResNetODE`.
        """
        dim = n_features if self.dim is None else v.integer("dim", self.dim, 1)
        opening = {}
        if dim != n_features and self.opening_activation is not None:
            opening = dict(input_dim=n_features, opening_activation=self.opening_activation)
        elif dim < n_features:
            raise ValueError(
                f"dim={dim} is smaller than the number of features ({n_features}) with "
                "opening_activation=None (inputs zero-padded to dim); use dim >= n_features "
                "or an opening layer"
            )
        v.integer("epochs", self.epochs, 1)
        if self.batch_size is not None:
            v.integer("batch_size", self.batch_size, 1)
        if self.learning_rate is not None:
            v.real("learning_rate", self.learning_rate, positive=True)
        if self.tol is not None:
            v.real("tol", self.tol)
        if self.tol is not None or self._early_stopping(n_samples):
            v.integer("n_iter_no_change", self.n_iter_no_change, 1)
        self._lr_reductions(False)  # checked whether or not a stopping rule uses it
        if self._early_stopping(n_samples):
            fraction = v.real("validation_fraction", self.validation_fraction, positive=True)
            if not fraction < 1:
                raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
            if n_samples < 2:
                raise ValueError(
                    f"early_stopping needs at least 2 samples to hold out validation data, "
                    f"got n_samples={n_samples}"
                )
        return dim, opening

    def _early_stopping(self, n_samples: int) -> bool:
        """Whether a fit on n_samples holds out validation data (early_stopping
        resolved, 'auto' by the number of samples)."""
        if isinstance(self.early_stopping, str):
            if self.early_stopping != "auto":
                raise ValueError(
                    f"early_stopping must be True, False or 'auto', got {self.early_stopping!r}"
                )
            return n_samples > _AUTO_EARLY_STOPPING_SAMPLES
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(
                f"early_stopping must be True, False or 'auto', got "
                f"{type(self.early_stopping).__name__}"
            )
        return bool(self.early_stopping)

    def _lr_reductions(self, validating: bool) -> int:
        """lr_reductions resolved ('auto': 1 when validation data is monitored)."""
        if isinstance(self.lr_reductions, str):
            if self.lr_reductions != "auto":
                raise ValueError(
                    f"lr_reductions must be an integer >= 0 or 'auto', got {self.lr_reductions!r}"
                )
            return 1 if validating else 0
        return v.integer("lr_reductions", self.lr_reductions, 0)

    def _steps(self) -> bool:
        """Whether the optimizer takes steps (partial_fit exists only then, as for
        scikit-learn's MLP with solver 'lbfgs')."""
        try:
            optimizer = make_optimizer(copy.deepcopy(self.optimizer))
        except (TypeError, ValueError):
            return True  # partial_fit reports the bad optimizer
        return hasattr(optimizer, "step") and not isinstance(optimizer, LBFGS)

    def _continues(self, partial: bool) -> bool:
        """Whether this call trains the fitted ``model_`` further (partial_fit, or fit
        with warm_start) rather than a new network."""
        return hasattr(self, "model_") and (partial or bool(self.warm_start))

    def _train(self, X, Y, sample_weight, *, head, n_classes=None, n_outputs=None, partial=False):
        """Train ``model_`` (a new one, or the fitted one when it continues) on (X, Y);
        sets the fitted attributes. ``partial``: one epoch, no held-out data."""
        n_samples, n_features = X.shape
        dim, opening = self._check_hyperparameters(n_samples, n_features)
        continuing = self._continues(partial)
        optimizer = make_optimizer(copy.deepcopy(self.optimizer))
        rng = check_random_state(self.random_state)
        seed_init, seed_fit, seed_split = (int(s) for s in rng.randint(_SEED_BOUND, size=3))
        resume = continuing and hasattr(self, "_optimizer")
        if continuing:
            model = self.model_
            optimizer = getattr(self, "_optimizer", optimizer)
            seed_fit = (seed_fit + self.n_iter_) % _SEED_BOUND  # another shuffle each call
        else:
            model = ResNetODE(
                dim,
                v.integer("n_layers", self.n_layers, 1),
                T=self.T,
                form=self.form,
                activation=self.activation,
                head=head,
                n_classes=n_classes,
                n_outputs=n_outputs,
                gamma=self.gamma,
                w2=self.w2,
                w_head=self.w_head,
                init=self.init,
                init_scale=self.init_scale,
                seed=seed_init,
                **opening,
            )
        validation_data: tuple[Any, ...] | None
        validation_data, stopper, callbacks = None, None, []
        val = None
        early_stopping = self._early_stopping(n_samples)
        if early_stopping and not partial:
            val = _validation_rows(X, Y, sample_weight, self.validation_fraction, seed_split)
            if not val.any() or val.all():
                val = None  # all rows alike: nothing to hold out; monitor the training loss
        if val is not None:
            validation_data = (X[val], Y[val])
            if sample_weight is not None:
                validation_data += (sample_weight[val],)
                sample_weight = sample_weight[~val]
            X, Y = X[~val], Y[~val]
            callbacks.append(self._validation_scorer(*validation_data))
        if (early_stopping or self.tol is not None) and not partial:
            stopper = EarlyStopping(
                "val_loss" if validation_data is not None else "loss",
                patience=self.n_iter_no_change,
                min_delta=0.0 if self.tol is None else float(self.tol),
                restore_best=validation_data is not None,
                lr_reductions=self._lr_reductions(validation_data is not None),
            )
        # sample weights act as repetition counts: normalised to mean 1 with the regularisers
        # scaled by n / sum(w), the training cost is the mean cost of the repeated data set
        reg_scale = 1.0
        if sample_weight is not None:
            total = float(sample_weight.sum())
            if not total > 0:
                raise ValueError(
                    "the sample weights of the training part (after holding out the validation "
                    "data) are all zero; use another random_state or validation_fraction"
                )
            reg_scale = len(sample_weight) / total
            sample_weight = sample_weight * reg_scale
        # the penalties' weights as the hyper-parameters say (warm_start may change them)
        model.w2, model.w_head = float(self.w2) * reg_scale, float(self.w_head) * reg_scale
        batch_size = self.batch_size
        if batch_size is not None:
            batch_size = min(int(batch_size), len(X))
        if optimizer.full_batch:
            batch_size = None  # GD and L-BFGS
        try:
            history = fit(
                model,
                X,
                Y,
                optimizer=optimizer,
                lr=self.learning_rate,
                epochs=1 if partial else self.epochs,
                batch_size=batch_size,
                sample_weight=sample_weight,
                validation_data=validation_data,
                callbacks=callbacks,
                early_stopping=stopper,
                shuffle=True,
                seed=seed_fit,
                progress=bool(self.verbose),
                threads=self.threads,
                epoch_loss="batches",  # as MLPClassifier's loss_curve_: no extra pass an epoch
                resume=resume,
            )
        except NonFiniteError as exc:
            raise NonFiniteError(
                f"{exc}: training diverged with optimizer={self.optimizer!r}, "
                f"learning_rate={self.learning_rate!r}; standardise the inputs (e.g. with "
                "StandardScaler) or lower learning_rate",
                exc.layer,
                exc.samples,
                exc.stage,
            ) from exc
        finally:
            model.w2, model.w_head = float(self.w2), float(self.w_head)
        self._record(model, optimizer, history, len(X), continuing, validation_data is not None)
        return self

    def _record(self, model, optimizer, history, n_samples, continuing, validated) -> None:
        """The fitted attributes after a training call (scikit-learn's MLP names)."""
        earlier = continuing and hasattr(self, "loss_curve_")
        self.model_ = model
        self._optimizer = optimizer  # its state carries over to partial_fit / warm_start
        self.history_ = history
        self.loss_curve_ = (self.loss_curve_ if earlier else []) + list(history.loss)
        self.n_iter_ = (self.n_iter_ if earlier else 0) + len(history)
        self.t_ = (self.t_ if earlier else 0) + n_samples * len(history)
        self.loss_ = self.loss_curve_[-1]
        if validated:
            self.validation_scores_ = list(self._scores)
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)

    def _validation_scorer(self, X_val, Y_val, weights=None):
        """A callback that records the score of each epoch on the held-out data."""
        self._scores: list[float] = []

        def record(epoch, logs, model):
            # a classifier's score, the accuracy, is in the epoch's records already
            score = logs.get("val_accuracy")
            if score is None:
                score = self._score_model(model, X_val, Y_val, weights)
            self._scores.append(score)

        return record

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.decision_function(X, threads=self.threads)


class ResNetODEClassifier(ClassifierMixin, _ResNetODEBase):
    __doc__ = f"""Residual-network (forward-Euler neural ODE) classifier with a softmax head.

    The network lifts a sample to ``dim`` features (an opening layer) and maps it through
    ``x_{{k+1}} = x_k + h f_k(x_k)``, ``h = T / n_layers``, and classifies the final
    state with a softmax layer, minimising the mean cross-entropy plus Tikhonov
    terms. Labels may be of any type (encoded through ``classes_``); any number
    of classes >= 2 is supported.

    Parameters
    ----------{_parameters_doc("auto", "")}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; column ``j`` of :meth:`predict_proba` is ``classes_[j]``.{_ATTRIBUTES_DOC}

    See Also
    --------
    ResNetODERegressor : The regression counterpart (linear head).
    resode.ResNetODE : The underlying model.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from resode.sklearn import ResNetODEClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), ResNetODEClassifier(random_state=0)).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    classes_: np.ndarray

    def fit(self, X, y, sample_weight=None):
        """Train the network on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels; at least two distinct classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples' cross-entropy terms, read as repetition
            counts: weight k stands for k copies of the sample (exactly so with
            the full-batch optimizers; mini-batches are drawn differently).

        Returns
        -------
        self : ResNetODEClassifier
            The fitted estimator.
        """
        return self._fit_classes(X, y, sample_weight, None, partial=False)

    @available_if(_ResNetODEBase._steps)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train the network for one epoch on (X, y), going on from the last call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole training data: required on the first call,
            optional (and then equal to ``classes_``) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.

        Returns
        -------
        self : ResNetODEClassifier
            The estimator, trained one epoch further.
        """
        return self._fit_classes(X, y, sample_weight, classes, partial=True)

    def _fit_classes(self, X, y, sample_weight, classes, *, partial):
        continuing = self._continues(partial)
        X, y = validate_data(self, X, y, dtype=np.float64, reset=not continuing)
        check_classification_targets(y)
        sample_weight = _sample_weight(sample_weight, len(X))
        if partial and not continuing and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if classes is None:
            classes = self.classes_ if continuing and partial else np.unique(y)
        classes = LabelEncoder().fit(classes).classes_
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"the classes {classes.tolist()} differ from those the network was trained on, "
                f"{self.classes_.tolist()} (partial_fit and warm_start keep the classes)"
            )
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; "
                f"y has 1 class ({classes[0]!r})"
            )
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(
                f"y holds labels outside the classes {classes.tolist()}: {y[unknown][0]!r}"
            )
        codes = np.searchsorted(classes, y).astype(np.int64)
        if not partial and sample_weight is not None:
            if len(np.unique(codes[sample_weight > 0])) < 2:
                raise ValueError(
                    "sample_weight leaves samples of only one class with a positive weight; "
                    "at least 2 classes are needed"
                )
        self.classes_ = classes
        return self._train(
            X, codes, sample_weight, head="softmax", n_classes=len(classes), partial=partial
        )

    def decision_function(self, X):
        """Confidence scores: the logits of the softmax head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The logits ``W x_{L+1} + mu``; for two classes the difference of the
            second and first logit (positive means ``classes_[1]``), as in
            scikit-learn.
        """
        z = self._decision(X)
        if z.shape[1] == 2:
            return z[:, 1] - z[:, 0]
        return z

    def predict_proba(self, X):
        """Class probabilities (the softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; each row sums to 1.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict_proba(X, threads=self.threads)

    def predict_log_proba(self, X):
        """Logarithms of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        z = self._decision(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The label (from ``classes_``) with the largest logit.
        """
        z = self._decision(X)
        return self.classes_[np.argmax(z, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


class ResNetODERegressor(RegressorMixin, _ResNetODEBase):
    __doc__ = f"""Residual-network (forward-Euler neural ODE) regressor with a linear head.

    The network lifts a sample to ``dim`` features (an opening layer) and maps it through
    ``x_{{k+1}} = x_k + h f_k(x_k)``, ``h = T / n_layers``, and predicts
    ``W x_{{L+1}} + mu``, minimising the mean squared error plus Tikhonov terms.
    Single and multiple outputs are supported: a 1-D ``y`` gives 1-D
    predictions, a 2-D ``y`` of shape (n_samples, n_outputs) 2-D predictions.

    Parameters
    ----------{_parameters_doc(True, _REGRESSOR_NOTE)}
    normalize_y : bool, default=True
        Train on standardised targets (zero mean, unit variance per output).
        The scaling is folded into the head afterwards, so ``model_`` predicts
        in the original units.

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.{_ATTRIBUTES_DOC}

    See Also
    --------
    ResNetODEClassifier : The classification counterpart (softmax head).
    resode.ResNetODE : The underlying model.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from resode.sklearn import ResNetODERegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(StandardScaler(), ResNetODERegressor(random_state=0)).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    n_outputs_: int
    _target_scale: tuple[np.ndarray, np.ndarray]

    def __init__(
        self,
        *,
        dim=48,
        opening_activation="identity",
        n_layers=5,
        T=1.0,
        form="symmetric",
        activation="relu",
        gamma=0.0,
        w2=1e-4,
        w_head=1e-4,
        optimizer="adam",
        learning_rate=None,
        epochs=200,
        batch_size=200,
        init="uniform",
        init_scale=0.1,
        tol=1e-4,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        lr_reductions="auto",
        random_state=None,
        threads=None,
        verbose=False,
        warm_start=False,
        normalize_y=True,
    ):
        super().__init__(
            dim=dim,
            opening_activation=opening_activation,
            n_layers=n_layers,
            T=T,
            form=form,
            activation=activation,
            gamma=gamma,
            w2=w2,
            w_head=w_head,
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            init=init,
            init_scale=init_scale,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            lr_reductions=lr_reductions,
            random_state=random_state,
            threads=threads,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.normalize_y = normalize_y

    def fit(self, X, y, sample_weight=None):
        """Train the network on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples' squared errors, read as repetition
            counts: weight k stands for k copies of the sample (exactly so with
            the full-batch optimizers; mini-batches are drawn differently).

        Returns
        -------
        self : ResNetODERegressor
            The fitted estimator.
        """
        return self._fit_targets(X, y, sample_weight, partial=False)

    @available_if(_ResNetODEBase._steps)
    def partial_fit(self, X, y, sample_weight=None):
        """Train the network for one epoch on (X, y), going on from the last call.

        The first call fixes the number of outputs and, with ``normalize_y``, the
        target scaling.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            As for :meth:`fit`.

        Returns
        -------
        self : ResNetODERegressor
            The estimator, trained one epoch further.
        """
        return self._fit_targets(X, y, sample_weight, partial=True)

    def _fit_targets(self, X, y, sample_weight, *, partial):
        continuing = self._continues(partial)
        X, y = validate_data(
            self, X, y, dtype=np.float64, multi_output=True, y_numeric=True, reset=not continuing
        )
        sample_weight = _sample_weight(sample_weight, len(X))
        Y = y.reshape(len(y), -1)
        if continuing:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs but the network was trained on "
                    f"{self.n_outputs_} (partial_fit and warm_start keep them)"
                )
            mean, std = self._target_scale
            m = self.model_  # back to the standardised targets it trains on
            m.set_parameters(W=m.W / std[:, None], mu=(m.mu - mean) / std)
        else:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = Y.shape[1]
            if self.normalize_y:
                mean = np.average(Y, axis=0, weights=sample_weight)  # weights not all zero
                std = np.sqrt(np.average((Y - mean) ** 2, axis=0, weights=sample_weight))
                std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
            else:
                mean, std = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
            self._target_scale = (mean, std)
        try:
            self._train(
                X,
                (Y - mean) / std,
                sample_weight,
                head="linear",
                n_outputs=self.n_outputs_,
                partial=partial,
            )
        finally:
            if hasattr(self, "model_"):
                # fold the target scaling into the head: model_ predicts in the original units
                m = self.model_
                m.set_parameters(W=m.W * std[:, None], mu=m.mu * std + mean)
        return self

    @staticmethod
    def _score_model(model, X, Y, weights) -> float:
        return float(r2_score(Y, model.predict(X), sample_weight=weights))

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Float64 predictions; 1-D when ``y`` was 1-D during fit.
        """
        z = np.asarray(self._decision(X), dtype=np.float64)
        return z[:, 0] if self._y_1d else z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


# -- helpers ----------------------------------------------------------------------------------


def _sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """None, or a float64 copy of shape (n_samples,), finite and >= 0."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        # a Number: float() takes every one but complex (which raises, as it should)
        return np.full(n_samples, float(sample_weight))  # type: ignore[arg-type]
    sw = np.array(sample_weight, dtype=np.float64)
    if sw.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), matching X, got {sw.shape}"
        )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight must be finite")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative")
    if n_samples and not np.any(sw):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


def _validation_rows(X, Y, sample_weight, fraction: float, seed: int) -> np.ndarray:
    """Rows held out for early stopping, chosen by a seeded hash of each row's content.

    Copies of a row always fall on the same side, so a row of weight k and k repeated
    rows are split alike (scikit-learn's sample-weight equivalence), and duplicates
    never straddle the split. At least one row with positive weight lands on each side.
    """
    key = seed.to_bytes(8, "little")
    u = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(
                    X[i].tobytes() + np.asarray(Y[i]).tobytes(), key=key, digest_size=8
                ).digest(),
                "little",
            )
            / 2.0**64
            for i in range(len(X))
        ]
    )
    val = u < fraction
    alive = np.ones(len(X), bool) if sample_weight is None else sample_weight > 0
    # fallbacks take every copy of the chosen row (equal content, equal hash)
    if not (val & alive).any():
        val |= alive & (u == u[alive].min())
    if not (~val & alive).any():
        val &= ~(alive & (u == u[alive].max()))
    return val
