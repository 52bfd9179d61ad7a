"""The model object: a ResNet-ODE's configuration and parameters in one place."""

from __future__ import annotations

import copy
import warnings
from typing import Any, Literal, overload

import numpy as np

from . import _core
from . import _validation as v
from . import functional as F

__all__ = ["ResNetODE", "ZeroGradientWarning"]

INITS = ("zeros", "uniform", "normal")
CLASSIFIER_HEADS = v.CLASSIFIER_HEADS
ZERO_AT_ZERO = ("tanh", "relu", "leaky_relu", "identity")  # activations with s(0) = 0


class ZeroGradientWarning(UserWarning):
    """The initial parameters give an exactly zero gradient: training cannot start."""


class ResNetODE:
    """A residual network ``x_{k+1} = x_k + h f_k(x_k)``, ``h = T / n_layers``, with a head.

    Parameters
    ----------
    dim
        state dimension d. Without an opening layer, inputs with fewer features
        are zero-padded (an augmented neural ODE); more features are an error.
    n_layers
        number of layers L.
    T
        final time.
    form, activation, gamma
        the vector field (docs/mathematics.md).
    head
        ``'state'`` (targets in the state space), ``'linear'`` (``n_outputs``
        regression targets), ``'softmax'`` (``n_classes`` classes) or ``'logistic'``.
    w1, w2, w_head
        running-cost and Tikhonov weights.
    init
        ``'uniform'`` in [-init_scale, init_scale] (the initialisation studied
        by Andreu 2020), ``'normal'`` with standard deviation
        init_scale, or ``'zeros'``. The head's W is drawn the same way, scaled by
        1 / sqrt(dim); mu starts at zero.
    seed
        seed of the initialisation.
    dtype
        ``'float64'`` or ``'float32'``: the dtype of the parameters and of the
        computation (inputs are converted to it).
    scheme
        ``'euler'`` (the ResNet), ``'heun'``, ``'rk4'``, or for the Hamiltonian
        forms ``'symplectic_euler'`` / ``'verlet'`` (docs/structure.md).
    project
        None, or ``'relu'``: the post-activation ResNet x_{k+1} = relu(Phi_k(x_k))
        (with ``form='symmetric'``: ResNet-S of Zhang & Schaeffer 2020).
    share
        layers per parameter group: groups of ``share`` consecutive layers use
        the same V, b (``share = n_layers``: an autonomous neural ODE).
    input_dim
        None (no opening layer), or the number of input features: an
        opening layer ``x_1 = s0(K0 x + c0)`` then maps each input x to the initial
        state, with trainable K0 (dim, input_dim) and c0 (dim,), so that the state
        dimension is free of the number of features (Haber and Ruthotto's opening
        layer; a learned lifting of the augmented neural ODE). K0 is drawn
        uniformly with variance 1 / input_dim (LeCun's rule; zeros for
        ``init='zeros'``), c0 starts at zero; both are penalised with ``w_head``.
    opening_activation
        s0 of the opening layer (any activation; ``'identity'``
        makes it a linear lifting). Needs ``input_dim``.

    Notes
    -----
    For ``form='resnet_d'`` (f = -A s(K x + b) + c, V[k] = [K, A], b[k] = [b, c]) the
    constraint A >= 0 is kept by :meth:`project_parameters`, which the training loop
    calls after every optimiser step.
    """

    # the parameters, drawn by initialize: W, mu for heads with parameters, K0, c0 of an
    # opening layer, None otherwise
    V: np.ndarray
    b: np.ndarray
    W: np.ndarray | None
    mu: np.ndarray | None
    K0: np.ndarray | None
    c0: np.ndarray | None

    def __init__(
        self,
        dim: int,
        n_layers: int,
        *,
        T: float = 1.0,
        form: str = "inner",
        activation: str = "tanh",
        head: str = "state",
        n_classes: int | None = None,
        n_outputs: int | None = None,
        gamma: float = 0.0,
        w1: float = 0.0,
        w2: float = 0.0,
        w_head: float = 0.0,
        init: str = "uniform",
        init_scale: float = 0.1,
        seed: int | None = None,
        dtype: Any = "float64",
        scheme: str = "euler",
        project: str | None = None,
        share: int = 1,
        input_dim: int | None = None,
        opening_activation: str = "identity",
    ):
        self.dim = v.integer("dim", dim)
        self.n_layers = v.integer("n_layers", n_layers)
        self.T = v.real("T", T, positive=True)
        self.form = v.choice("form", form, v.FORMS)
        self.activation = v.choice("activation", activation, v.ACTIVATIONS)
        self.head = v.choice("head", head, v.HEADS)
        self.gamma = v.real("gamma", gamma)
        self.w1, self.w2, self.w_head = v.real("w1", w1), v.real("w2", w2), v.real("w_head", w_head)
        if self.gamma > 0 and self.form != "antisymmetric":
            raise ValueError("gamma > 0 applies only to form='antisymmetric'")
        if self.w1 > 0 and self.head != "state":
            raise ValueError("w1 > 0 (the running cost) applies only to head='state'")
        self.scheme = v.choice("scheme", scheme, v.SCHEMES)
        self.project = None if project is None else v.choice("project", project, v.PROJECTIONS)
        self.share = v.integer("share", share)
        groups = -(-self.n_layers // self.share)
        if -(-self.n_layers // groups) != self.share:
            # the sweeps cut L layers into G groups of ceil(L / G): keep the two in step
            size = -(-self.n_layers // groups)
            raise ValueError(
                f"share={self.share} with n_layers={self.n_layers}: the sweeps cut L layers into "
                f"G = ceil(L / share) groups of ceil(L / G) layers, here {size}; a share that "
                "divides n_layers always works"
            )
        if self.scheme in v.SYMPLECTIC_SCHEMES and self.form not in v.HAMILTONIAN_FORMS:
            raise ValueError(
                f"scheme={self.scheme!r} needs form 'hamiltonian' or 'hamiltonian_hr', "
                f"got form={self.form!r}"
            )
        v.param_shapes(self.form, self.dim)  # checks that dim suits the form
        self.dtype = np.dtype(dtype)
        if self.dtype not in v.COMPUTE_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.n_classes, self.n_outputs = _head_size(self.head, n_classes, n_outputs)
        self.input_dim = None if input_dim is None else v.integer("input_dim", input_dim)
        self.opening_activation = v.choice("opening_activation", opening_activation, v.ACTIVATIONS)
        if self.input_dim is None and self.opening_activation != "identity":
            raise ValueError(
                "opening_activation applies to a model with an opening layer (input_dim)"
            )
        self.W = self.mu = self.K0 = self.c0 = None
        self.initialize(init, init_scale=init_scale, seed=seed)

    # -- parameters ---------------------------------------------------------------------------

    @property
    def head_rows(self) -> int | None:
        """Rows m of the head matrix W (None for the state head)."""
        if self.head == "state":
            return None
        return {"linear": self.n_outputs, "softmax": self.n_classes, "logistic": 1}[self.head]

    def initialize(
        self, init: str = "uniform", *, init_scale: float = 0.1, seed: int | None = None
    ):
        """(Re)draw the parameters; warns when they give an exactly zero gradient."""
        init = v.choice("init", init, INITS)
        scale = v.real("init_scale", init_scale)
        rng = np.random.default_rng(seed)
        G, d, m = self.n_groups, self.dim, self.head_rows
        v_shape, b_shape, _, _ = v.param_shapes(self.form, d)

        def draw(shape, factor=1.0):
            if init == "zeros" or scale == 0:
                return np.zeros(shape, dtype=self.dtype)
            if init == "uniform":
                return (factor * rng.uniform(-scale, scale, size=shape)).astype(self.dtype)
            return (factor * scale * rng.normal(size=shape)).astype(self.dtype)

        self.V, self.b = draw((G, *v_shape)), draw((G, *b_shape))
        self.project_parameters()
        if m is not None:
            self.W = draw((m, d), 1.0 / np.sqrt(d))
            self.mu = np.zeros(m, dtype=self.dtype)
        else:
            self.W = self.mu = None
        # an opening layer, drawn last: a model without one draws as before
        if self.input_dim is not None:
            p = self.input_dim
            bound = 0.0 if init == "zeros" else np.sqrt(3.0 / p)  # variance 1 / p
            self.K0 = rng.uniform(-bound, bound, size=(d, p)).astype(self.dtype)
            self.c0 = np.zeros(d, dtype=self.dtype)
        if init == "zeros" or scale == 0:
            # symmetric: dV = -h (s(0) p^T + s'(0) (0 p) x^T) vanishes when s(0) = 0;
            # outer / antisymmetric: dV = h s'(0) p x^T vanishes when s'(0) = 0 (relu)
            # likewise the Hamiltonian forms built on them, and resnet_d (dA = -h p s(0)^T,
            # dK = 0 while A = 0): only c moves, which cannot make A or K move
            zero_s = ("symmetric", "hamiltonian", "resnet_d")
            zero_ds = ("outer", "antisymmetric", "hamiltonian_hr")
            stuck = (self.form in zero_s and self.activation in ZERO_AT_ZERO) or (
                self.form in zero_ds and self.activation == "relu"
            )
            if stuck:
                warnings.warn(
                    f"V = b = 0 gives an exactly zero gradient for form={self.form!r} with "
                    f"activation={self.activation!r}: training cannot move the layers; "
                    "use init='uniform' or 'normal'",
                    ZeroGradientWarning,
                    stacklevel=2,
                )
        return self

    @property
    def n_groups(self) -> int:
        """Parameter groups: ceil(n_layers / share), the leading axis of V and b."""
        return -(-self.n_layers // self.share)

    def project_parameters(self) -> ResNetODE:
        """Project the parameters onto the form's constraint set, in place.

        ``resnet_d``: A >= 0 entrywise (A = V[:, 1]), the decay condition of
        ResNet-D (Zhang & Schaeffer 2020). Other forms have no constraint. The training loop calls
        this after every optimiser step (a projected-gradient method).
        """
        if self.form == "resnet_d" and self.V is not None:
            np.maximum(self.V[:, 1], 0, out=self.V[:, 1])
        return self

    def parameters(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name: V, b; W, mu for heads with parameters; K0, c0
        of an opening layer."""
        params = {"V": self.V, "b": self.b}
        if self.W is not None:
            assert self.mu is not None  # drawn and replaced with W
            params.update(W=self.W, mu=self.mu)
        if self.has_opening:
            assert self.K0 is not None and self.c0 is not None  # drawn with the opening layer
            params.update(K0=self.K0, c0=self.c0)
        return params

    def set_parameters(self, **params: Any) -> ResNetODE:
        """Replace parameters (validated, converted to the model's dtype, copied)."""
        shapes = {k: a.shape for k, a in self.parameters().items()}
        for name, value in params.items():
            if name not in shapes:
                raise ValueError(f"unknown parameter {name!r}; this model has {sorted(shapes)}")
            shape = shapes[name]
            setattr(self, name, v.as_param(name, value, self.dtype, shape, str(shape)).copy())
        return self

    @property
    def n_parameters(self) -> int:
        return sum(a.size for a in self.parameters().values())

    def get_flat(self) -> np.ndarray:
        """All parameters as one float64 vector, in the order of :meth:`parameters`."""
        return np.concatenate([a.ravel() for a in self.parameters().values()]).astype(np.float64)

    def set_flat(self, theta: np.ndarray) -> ResNetODE:
        start = 0
        for name, a in self.parameters().items():
            setattr(
                self, name, np.asarray(theta[start : start + a.size], self.dtype).reshape(a.shape)
            )
            start += a.size
        return self

    def copy(self) -> ResNetODE:
        return copy.deepcopy(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a model that crossed a process boundary (Dask's serialisation) may hold
        # unaligned buffers; the kernels take its parameters as they are
        self.__dict__.update(state)
        for name, a in self.parameters().items():
            setattr(self, name, v.kernel_array(a, self.dtype))

    # -- evaluation -----------------------------------------------------------------------------

    @property
    def has_opening(self) -> bool:
        """Whether an opening layer maps the inputs to the initial states."""
        return self.input_dim is not None

    def prepare_inputs(self, X: Any) -> np.ndarray:
        """X in the model's dtype: (N, input_dim) with an opening layer, else zero-padded
        to (N, dim)."""
        arr = v._array("X", X)
        if arr.ndim != 2:
            raise ValueError(f"X must be a 2-D array (N, n_features), got shape {arr.shape}")
        n, p = arr.shape
        if self.has_opening:
            if p != self.input_dim:
                raise ValueError(
                    f"X has {p} features but the model's opening layer takes "
                    f"input_dim={self.input_dim}"
                )
            return v.kernel_array(arr, self.dtype)
        if p > self.dim:
            raise ValueError(
                f"X has {p} features but the model's state dimension is dim={self.dim}; "
                "build the model with dim >= the number of features, or with an opening "
                "layer (input_dim)"
            )
        if p == self.dim:
            return v.kernel_array(arr, self.dtype)
        padded = np.zeros((n, self.dim), dtype=self.dtype)
        padded[:, :p] = arr
        return padded

    def _open(self, Xp: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(x_1, the opening layer's pre-activations K0 x + c0 or None) of prepared inputs."""
        if not self.has_opening:
            return Xp, None
        assert self.K0 is not None and self.c0 is not None  # drawn with the opening layer
        return _core.opening_forward(Xp, self.K0, self.c0, self.opening_activation)

    def initial_states(self, X: Any) -> np.ndarray:
        """The states x_1 (N, dim) the flow starts from: the opening layer's outputs,
        or the inputs zero-padded to dim."""
        return self._open(self.prepare_inputs(X))[0]

    def _net(self, threads=None) -> dict[str, Any]:
        return {
            "T": self.T,
            "form": self.form,
            "activation": self.activation,
            "gamma": self.gamma,
            "threads": threads,
            "scheme": self.scheme,
            "project": self.project,
            "n_layers": self.n_layers if self.share > 1 else None,
        }

    def _cost(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "W": self.W,
            "mu": self.mu,
            "w1": self.w1,
            "w2": self.w2,
            "w_head": self.w_head,
        }

    def flow(self, states: Any, *, threads: int | None = None) -> np.ndarray:
        """The residual layers alone: final states x_{L+1} (N, dim) from initial states x_1."""
        return F.forward(states, self.V, self.b, **self._net(threads))

    def forward(self, X: Any, *, threads: int | None = None) -> np.ndarray:
        """Final states x_{L+1}, shape (N, dim)."""
        return self.flow(self.initial_states(X), threads=threads)

    def trajectory(self, X: Any, *, threads: int | None = None) -> np.ndarray:
        """All states x_1 .. x_{L+1}, shape (L+1, N, dim)."""
        return F.trajectory(self.initial_states(X), self.V, self.b, **self._net(threads))

    def decision_function(self, X: Any, *, threads: int | None = None) -> np.ndarray:
        """Head outputs W x_{L+1} + mu: logits for classifiers, predictions for 'linear'."""
        if self.head == "state":
            raise AttributeError("head='state' has no decision function; use forward()")
        assert self.W is not None and self.mu is not None  # drawn for every other head
        return self.forward(X, threads=threads) @ self.W.T + self.mu

    def predict(self, X: Any, *, threads: int | None = None) -> np.ndarray:
        """Final states ('state'), outputs (N, m) ('linear'), or class labels (classifiers)."""
        if self.head == "state":
            return self.forward(X, threads=threads)
        z = self.decision_function(X, threads=threads)
        if self.head == "linear":
            return z
        if self.head == "softmax":
            return np.argmax(z, axis=1)
        return (z[:, 0] > 0).astype(np.int64)

    def predict_proba(self, X: Any, *, threads: int | None = None) -> np.ndarray:
        """Class probabilities (N, n_classes) for the classifier heads."""
        if self.head not in CLASSIFIER_HEADS:
            raise AttributeError(f"predict_proba needs a classifier head, not head={self.head!r}")
        z = self.decision_function(X, threads=threads)
        if self.head == "logistic":
            p = 0.5 * (1.0 + np.tanh(0.5 * z[:, 0]))  # sigmoid without overflow
            return np.column_stack([1.0 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def accuracy(
        self, X: Any, y: Any, *, sample_weight: Any = None, threads: int | None = None
    ) -> float:
        """Fraction of correctly classified samples (classifier heads), weighted by
        ``sample_weight`` when given."""
        if self.head not in CLASSIFIER_HEADS:
            raise AttributeError(f"accuracy needs a classifier head, not head={self.head!r}")
        correct = self.predict(X, threads=threads) == np.asarray(y)
        return float(np.average(correct, weights=sample_weight))

    def loss_and_grad(
        self,
        X: Any,
        Y: Any,
        *,
        sample_weight: Any = None,
        input_grad: bool = False,
        threads: int | None = None,
    ) -> F.LossGrad:
        """The cost J (a sum over samples) and its gradients, as resode.loss_and_grad
        (with an opening layer also dK0, dc0; dX is then the gradient with respect
        to the inputs X, not to x_1)."""
        return self.cost_on(
            self.prepare_inputs(X),
            Y,
            sample_weight=sample_weight,
            input_grad=input_grad,
            threads=threads,
        )

    def loss(
        self, X: Any, Y: Any, *, sample_weight: Any = None, threads: int | None = None
    ) -> float:
        """The cost J (a sum over samples), as resode.loss."""
        return self.cost_on(
            self.prepare_inputs(X), Y, sample_weight=sample_weight, threads=threads, grad=False
        )

    @overload
    def cost_on(
        self,
        Xp: np.ndarray,
        Y: Any,
        *,
        sample_weight: Any = ...,
        penalty_scale: float = ...,
        grad: Literal[True] = ...,
        input_grad: bool = ...,
        threads: int | None = ...,
    ) -> F.LossGrad: ...
    @overload
    def cost_on(
        self,
        Xp: np.ndarray,
        Y: Any,
        *,
        sample_weight: Any = ...,
        penalty_scale: float = ...,
        grad: Literal[False],
        input_grad: bool = ...,
        threads: int | None = ...,
    ) -> float: ...
    @overload
    def cost_on(
        self,
        Xp: np.ndarray,
        Y: Any,
        *,
        sample_weight: Any = ...,
        penalty_scale: float = ...,
        grad: bool,
        input_grad: bool = ...,
        threads: int | None = ...,
    ) -> F.LossGrad | float: ...
    def cost_on(
        self,
        Xp: np.ndarray,
        Y: Any,
        *,
        sample_weight: Any = None,
        penalty_scale: float = 1.0,
        grad: bool = True,
        input_grad: bool = False,
        threads: int | None = None,
    ) -> F.LossGrad | float:
        """J on inputs already through :meth:`prepare_inputs`, with the penalties'
        weights w2, w_head times ``penalty_scale`` (training takes the mean cost J/N:
        per-sample weights 1/N and ``penalty_scale = 1/N``)."""
        x1, z = self._open(Xp)
        call, _, c = F.checked_cost(
            x1,
            Y,
            self.V,
            self.b,
            self._net(threads),
            self._scaled_cost(penalty_scale, sample_weight),
            grad,
        )
        return self.cost_with(call, Xp, c.Y, c.sample_weight, grad, input_grad, opened=(x1, z))

    def checked_cost(
        self, *, penalty_scale: float = 1.0, threads: int | None = None, rows: int = 0
    ) -> F.CostCall:
        """The kernels' cost call with the model's options checked once, for
        :meth:`cost_with` on many batches of at most ``rows`` samples (training)."""
        X0, Y0 = v.no_samples(self.dtype, self.dim, self.head, self.head_rows or self.dim)
        return F.checked_cost(
            X0, Y0, self.V, self.b, self._net(threads), self._scaled_cost(penalty_scale, None),
            grad=True, rows=rows,
        )[0]  # fmt: skip

    def _scaled_cost(self, penalty_scale: float, sample_weight: Any) -> dict[str, Any]:
        return {
            **self._cost(),
            "w2": self.w2 * penalty_scale,
            "w_head": self.w_head * penalty_scale,
            "sample_weight": sample_weight,
        }

    @overload
    def cost_with(
        self,
        call: F.CostCall,
        Xp: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        grad: Literal[True] = ...,
        input_grad: bool = ...,
        opened: tuple[np.ndarray, np.ndarray | None] | None = ...,
    ) -> F.LossGrad: ...
    @overload
    def cost_with(
        self,
        call: F.CostCall,
        Xp: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        grad: Literal[False],
        input_grad: bool = ...,
        opened: tuple[np.ndarray, np.ndarray | None] | None = ...,
    ) -> float: ...
    @overload
    def cost_with(
        self,
        call: F.CostCall,
        Xp: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        grad: bool,
        input_grad: bool = ...,
        opened: tuple[np.ndarray, np.ndarray | None] | None = ...,
    ) -> F.LossGrad | float: ...
    def cost_with(
        self,
        call: F.CostCall,
        Xp: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        grad: bool = True,
        input_grad: bool = False,
        opened: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> F.LossGrad | float:
        """J of a checked kernel call on checked arrays: prepared inputs Xp, targets
        and weights as the kernel takes them. The one place where the opening layer
        joins the kernels' cost and gradient; its penalty weight is the head's."""
        x1, z = self._open(Xp) if opened is None else opened
        args = (x1, Y, self.V, self.b, self.W, self.mu, sample_weight)
        if not grad:
            J = float(call(*args, False)[0])
            return J + self._opening_penalty(call.w_head) if self.has_opening else J
        value, dV, db, dW, dmu, dX, _ = call(*args, True, input_grad or self.has_opening)
        if not self.has_opening:
            return F.LossGrad(float(value), dV, db, dW, dmu, dX)
        # x_1 = s0(z), z = K0 x + c0: the costate p_1 = dJ/dx_1 pulled back through it
        assert z is not None and dX is not None and self.K0 is not None and self.c0 is not None
        w_open = call.w_head
        dK0, dc0, dX_in = _core.opening_backward(
            Xp, self.K0, self.c0, z, dX, self.opening_activation, w_open, input_grad
        )
        value = float(value) + self._opening_penalty(w_open)
        return F.LossGrad(value, dV, db, dW, dmu, dX=dX_in, dK0=dK0, dc0=dc0)

    def _opening_penalty(self, weight: float) -> float:
        """(weight / 2) (|K0|^2 + |c0|^2), summed in float64."""
        if weight == 0:
            return 0.0
        assert self.K0 is not None and self.c0 is not None  # called with an opening layer only
        K0, c0 = self.K0.reshape(-1), self.c0
        if K0.dtype != np.float64:
            K0, c0 = K0.astype(np.float64), c0.astype(np.float64)
        return 0.5 * weight * (float(K0 @ K0) + float(c0 @ c0))

    def fit(self, X: Any, Y: Any, **kwargs: Any):
        """Train the parameters in place; see :func:`resode.training.fit`. Returns a History."""
        from .training import fit

        return fit(self, X, Y, **kwargs)

    # -- persistence ----------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The constructor arguments (without the initialisation) as plain JSON types."""
        return {
            "dim": self.dim,
            "n_layers": self.n_layers,
            "T": self.T,
            "form": self.form,
            "activation": self.activation,
            "head": self.head,
            "n_classes": self.n_classes,
            "n_outputs": self.n_outputs,
            "gamma": self.gamma,
            "w1": self.w1,
            "w2": self.w2,
            "w_head": self.w_head,
            "dtype": self.dtype.name,
            "scheme": self.scheme,
            "project": self.project,
            "share": self.share,
            "input_dim": self.input_dim,
            "opening_activation": self.opening_activation,
        }

    def save(self, path) -> None:
        """Write the model to one .npz file (no pickle); read it back with resode.load."""
        from .io import save

        save(self, path)

    def __repr__(self) -> str:
        c = self.config()
        defaults = {"scheme": "euler", "share": 1, "opening_activation": "identity"}
        shown = ", ".join(
            f"{k}={c[k]!r}"
            for k in c
            if (c[k] not in (None, 0.0) and defaults.get(k) != c[k]) or k == "T"
        )
        return f"ResNetODE({shown})"


def _head_size(head: str, n_classes, n_outputs) -> tuple[int | None, int | None]:
    if head == "softmax":
        if n_classes is None:
            raise ValueError("head='softmax' needs n_classes (>= 2)")
        if v.integer("n_classes", n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        return int(n_classes), None
    if head == "logistic":
        if n_classes not in (None, 2):
            raise ValueError(f"head='logistic' has 2 classes, got n_classes={n_classes}")
        return 2, None
    if n_classes is not None:
        raise ValueError(f"n_classes applies to classifier heads, not head={head!r}")
    if head == "linear":
        return None, v.integer("n_outputs", 1 if n_outputs is None else n_outputs)
    if n_outputs is not None:
        raise ValueError("n_outputs applies to head='linear'")
    return None, None
