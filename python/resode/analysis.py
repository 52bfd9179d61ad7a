"""Stability analysis of ResNet-ODEs: feature norms, input sensitivity, one-sided Lipschitz
constants, and the growth and sensitivity bounds of Zhang & Schaeffer (2020).

Every function takes the arrays of the functional API, ``(X, V, b)`` with the keywords
``T, form, activation, gamma, n_layers``, and returns arrays. :func:`network` turns a
:class:`~resode.ResNetODE` into those keywords, and :func:`stability_report` runs the
whole analysis on a model and prints the bounds beside the measured values::

    report = analysis.stability_report(model, X)
    print(report)

Notation (docs/mathematics.md): ``x_{k+1} = x_k + h f_k(x_k)``, ``h = T / L``; layer
index ``k = 0 .. L-1`` in arrays; ``|.|`` is the Euclidean norm of a vector, ``||.||`` the
spectral norm of a matrix (``norm='fro'``: the Frobenius norm, which bounds it); s is the
activation with slopes ``alpha = inf s'`` and ``beta = sup s'`` (tanh, relu, softplus:
[0, 1]; sigmoid: [0, 1/4]; leaky_relu: [0.01, 1]; identity: [1, 1]). All six activations
are nondecreasing and beta-Lipschitz, which is all the bounds use.

With parameter sharing (``n_layers`` larger than ``len(V)``: groups of
``m = ceil(n_layers / len(V))`` consecutive layers share ``V[g], b[g]``), layer k uses group
``k // m``, as in the functional API.

The per-form formulas (:func:`vector_field`, :func:`one_sided_lipschitz`,
:func:`stability_bounds`) cover the forms inner, outer, symmetric and antisymmetric and
raise ValueError
naming any other form; :func:`feature_norms` and :func:`input_sensitivity` run the C++
sweeps and take every form and sweep option the installed resode has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _validation as v
from . import functional as F

__all__ = [
    "OneSidedLipschitz",
    "StabilityBounds",
    "StabilityReport",
    "feature_norms",
    "input_sensitivity",
    "network",
    "one_sided_lipschitz",
    "stability_bounds",
    "stability_report",
    "sweep_options",
    "vector_field",
    "vector_field_jacobian",
]

#: The forms whose vector field the per-form formulas here (Jacobians, Lipschitz
#: constants, growth bounds) cover.
ANALYSED_FORMS = ("inner", "outer", "symmetric", "antisymmetric")

# Above this state dimension the supremum over the 2^d vertices of the slope box is
# replaced by a cheaper relaxation (see one_sided_lipschitz).
_MAX_VERTEX_DIM = 10


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _tanh_slope(z):
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


# name: (s, s', alpha = inf s', beta = sup s')
_ACTIVATIONS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], float, float]] = {
    "tanh": (np.tanh, _tanh_slope, 0.0, 1.0),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64), 0.0, 1.0),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * _sigmoid(-z), 0.0, 0.25),
    "softplus": (lambda z: np.logaddexp(0.0, z), _sigmoid, 0.0, 1.0),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, 0.01 * z),
        lambda z: np.where(z > 0, 1.0, 0.01),
        0.01,
        1.0,
    ),
    "identity": (lambda z: z, np.ones_like, 1.0, 1.0),
}


# -- input handling -------------------------------------------------------------------------


def network(model: Any) -> dict[str, Any]:
    """The keyword arguments of the analysis functions for a :class:`~resode.ResNetODE`.

    Returns ``V``, ``b``, ``n_layers`` and the model's sweep options (``T``, ``form``,
    ``activation``, ``gamma``, and any further ones the installed resode has, e.g. a
    time-stepping scheme), so that ``feature_norms(model.prepare_inputs(X),
    **network(model))`` analyses the model (inputs with fewer features than
    ``model.dim`` must be zero-padded by ``prepare_inputs`` first).
    """
    for attr in ("V", "b", "T", "form", "activation", "n_layers"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model must be a resode.ResNetODE (missing .{attr}), got {type(model).__name__}"
            )
    return {"V": model.V, "b": model.b, **sweep_options(model), "n_layers": model.n_layers}


def sweep_options(model: Any, threads: int | None = None) -> dict[str, Any]:
    """The model's options of :func:`resode.forward` except ``n_layers`` (T, form, ...)."""
    net_fn = getattr(model, "_net", None)
    if net_fn is not None:
        opts = dict(net_fn(threads))
    else:  # pragma: no cover - every ResNetODE has _net
        opts = {
            "T": model.T,
            "form": model.form,
            "activation": model.activation,
            "gamma": getattr(model, "gamma", 0.0),
            "threads": threads,
        }
    opts.pop("n_layers", None)
    if threads is None:
        opts.pop("threads", None)
    return opts


# Sweep options that do not change a layer's vector field f_k (only how it is stepped).
_STEPPING_OPTIONS = ("scheme", "project")


def _stepping(caller: str, options: dict) -> dict:
    """The stepping options among **options; anything else is a TypeError."""
    unknown = sorted(set(options) - set(_STEPPING_OPTIONS))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword arguments {unknown}")
    return options


def _group_index(n_groups: int, n_layers: Any) -> np.ndarray:
    """The parameter group of each layer: ``k // m`` with ``m = ceil(L / G)``."""
    if n_layers is None:
        return np.arange(n_groups)
    L = v.integer("n_layers", n_layers)
    m = -(-L // n_groups)
    if -(-L // m) != n_groups:
        raise ValueError(
            f"n_layers={L} does not fit {n_groups} parameter groups (len(V)): groups of "
            f"m = ceil(n_layers / len(V)) = {m} layers use {-(-L // m)} groups, not {n_groups}"
        )
    return np.arange(L) // m


def _per_layer(V: Any, b: Any, n_layers: Any) -> tuple[np.ndarray, np.ndarray]:
    """V and b with one entry per layer (groups repeated along axis 0), dtypes kept."""
    V, b = v._array("V", V), v._array("b", b)
    if V.ndim < 1 or len(V) < 1:
        raise ValueError(f"V must hold L >= 1 layers (or parameter groups), got shape {V.shape}")
    if b.ndim < 1 or len(b) != len(V):
        raise ValueError(
            f"b must have one entry per entry of V along axis 0 ({len(V)}), got shape {b.shape}"
        )
    if n_layers is None or v.integer("n_layers", n_layers) == len(V):
        return V, b
    idx = _group_index(len(V), n_layers)
    return np.take(V, idx, axis=0), np.take(b, idx, axis=0)


class _Field:
    """Validated float64 parameters of the four analysed forms, one entry per group."""

    def __init__(self, V, b, form, activation, gamma, n_layers, caller):
        if not isinstance(form, str):
            raise TypeError(f"form must be a string, got {type(form).__name__}")
        if form not in ANALYSED_FORMS:
            raise ValueError(
                f"{caller} has formulas for the forms {ANALYSED_FORMS}, not form={form!r}"
            )
        self.form = form
        self.activation = v.choice("activation", activation, v.ACTIVATIONS)
        self.gamma = v.real("gamma", gamma)
        if self.gamma > 0 and form != "antisymmetric":
            raise ValueError(f"gamma > 0 applies only to form='antisymmetric', got form={form!r}")
        V_arr = v._array("V", V)
        if V_arr.ndim != 3 or V_arr.shape[1] != V_arr.shape[2] or V_arr.shape[0] < 1:
            raise ValueError(
                f"V must have shape (L, d, d) (or (G, d, d) with parameter groups), "
                f"got {V_arr.shape}"
            )
        G, d = V_arr.shape[0], V_arr.shape[1]
        if d < 1:
            raise ValueError(f"V must have d >= 1, got shape {V_arr.shape}")
        self.V = v.as_param("V", V_arr.astype(np.float64), np.dtype(np.float64), (G, d, d), "")
        self.b = v.as_param(
            "b",
            np.asarray(v._array("b", b), dtype=np.float64),
            np.dtype(np.float64),
            (G, d),
            f"(L, d) = ({G}, {d})",
        )
        self.group = _group_index(G, n_layers)  # (L,)
        self.d = d
        self.s, self.ds, self.alpha, self.beta = _ACTIVATIONS[self.activation]

    @property
    def n_layers(self) -> int:
        return len(self.group)

    def matrix(self) -> np.ndarray:
        """The matrix inside the activation: V, or A = V - V^T - gamma I (antisymmetric)."""
        if self.form == "antisymmetric":
            return self.V - self.V.transpose(0, 2, 1) - self.gamma * np.eye(self.d)
        return self.V


def _points(points: Any, n_layers: int, d: int) -> np.ndarray:
    """(n_layers, N, d) float64 sample points (a shared (N, d) set is broadcast)."""
    P = np.asarray(v._array("points", points), dtype=np.float64)
    if P.ndim == 2 and P.shape[1] == d:
        P = np.broadcast_to(P, (n_layers, *P.shape))
    elif P.ndim != 3 or P.shape[0] != n_layers or P.shape[2] != d:
        raise ValueError(
            f"points must have shape (N, d) = (N, {d}) or (L, N, d) = ({n_layers}, N, {d}), "
            f"got {P.shape}"
        )
    if P.shape[1] < 1:
        raise ValueError("points must hold at least one point")
    if not np.isfinite(P).all():
        raise ValueError("points contains non-finite values (inf or NaN)")
    return P


# -- vector fields --------------------------------------------------------------------------


def _field_and_jacobian(fld: _Field, g: int, Z: np.ndarray, jacobian: bool):
    """f_g and (optionally) its Jacobian at the rows of Z (N, d), for parameter group g."""
    V, b = fld.V[g], fld.b[g]
    if fld.form == "inner":
        f = fld.s(Z) @ V.T + b
        J = V[None, :, :] * fld.ds(Z)[:, None, :] if jacobian else None
    elif fld.form in ("outer", "antisymmetric"):
        A = fld.matrix()[g]
        z = Z @ A.T + b
        f = fld.s(z)
        J = fld.ds(z)[:, :, None] * A[None, :, :] if jacobian else None
    else:  # symmetric: f = -V^T s(V x + b), Df = -V^T diag(s'(z)) V
        z = Z @ V.T + b
        f = -fld.s(z) @ V
        J = -np.einsum("ji,nj,jk->nik", V, fld.ds(z), V) if jacobian else None
    return f, J


def _layerwise(Z, V, b, form, activation, gamma, jacobian):
    Va = v._array("V", V)
    single = Va.ndim == 2
    if single:
        V, b = Va[None], np.asarray(v._array("b", b))[None]
    fld = _Field(V, b, form, activation, gamma, None, "vector_field")
    G, d = fld.V.shape[0], fld.d
    Zarr = np.asarray(v._array("X", Z), dtype=np.float64)
    if single and Zarr.ndim == 2:
        Zarr = Zarr[None]
    if Zarr.ndim == 2 and Zarr.shape[1] == d:
        Zarr = np.broadcast_to(Zarr, (G, *Zarr.shape))
    elif Zarr.ndim != 3 or Zarr.shape[0] != G or Zarr.shape[2] != d:
        raise ValueError(
            f"X must have shape (N, d) = (N, {d}) or (L, N, d) = ({G}, N, {d}), got {Zarr.shape}"
        )
    if not np.isfinite(Zarr).all():
        raise ValueError("X contains non-finite values (inf or NaN)")
    out = np.stack(
        [_field_and_jacobian(fld, g, Zarr[g], jacobian)[1 if jacobian else 0] for g in range(G)]
    )
    return out[0] if single else out


def vector_field(
    X: Any,
    V: Any,
    b: Any,
    *,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
) -> np.ndarray:
    """The layer vector fields ``f_k(x)`` at given points, in NumPy (float64).

    ``inner``: ``V s(x) + b``; ``outer``: ``s(V x + b)``; ``symmetric``:
    ``-V^T s(V x + b)``; ``antisymmetric``: ``s((V - V^T - gamma I) x + b)``.

    Parameters
    ----------
    X : array_like, shape (N, d) or (L, N, d)
        Points (rows); a 3-D array gives each layer its own points.
    V, b : array_like, shapes (L, d, d) and (L, d), or (d, d) and (d,) for one layer.

    Returns
    -------
    numpy.ndarray, shape (L, N, d), or (N, d) for a single layer
        ``out[k, i] = f_k(X[i])`` (or ``f_k(X[k, i])``).
    """
    return _layerwise(X, V, b, form, activation, gamma, jacobian=False)


def vector_field_jacobian(
    X: Any,
    V: Any,
    b: Any,
    *,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
) -> np.ndarray:
    """The Jacobians ``Df_k(x)`` of the layer vector fields, in NumPy (float64).

    ``inner``: ``V diag(s'(x))``; ``outer``: ``diag(s'(z)) V`` with ``z = V x + b``;
    ``symmetric``: ``-V^T diag(s'(z)) V``; ``antisymmetric``: ``diag(s'(z)) A`` with
    ``A = V - V^T - gamma I``, ``z = A x + b``. At a kink s' is the left derivative
    (``relu'(0) = 0``), as in the sweeps.

    Arguments as for :func:`vector_field`.

    Returns
    -------
    numpy.ndarray, shape (L, N, d, d), or (N, d, d) for a single layer
        ``out[k, i, r, c] = d f_k(x)_r / d x_c`` at ``x = X[i]`` (row = output component).
    """
    return _layerwise(X, V, b, form, activation, gamma, jacobian=True)


# -- measured quantities --------------------------------------------------------------------


def feature_norms(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    n_layers: int | None = None,
    threads: int | None = None,
    **options: Any,
) -> np.ndarray:
    """Euclidean norms of the features after every layer, ``|x_k^i|``.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Inputs ``x_1 = x_in``.
    V, b, T, form, activation, gamma, threads :
        As in :func:`resode.trajectory` (every form the sweeps support).
    n_layers : int, optional
        The number of layers L when the parameters are shared in groups (len(V) < L).
    **options :
        Further sweep options of :func:`resode.trajectory`, passed on.

    Returns
    -------
    numpy.ndarray, shape (L + 1, N), float64
        ``norms[k, i] = |x_{k+1}^i|``: row 0 the input, row L the final state. The
        growth of sample i is ``norms[:, i] / norms[0, i]``.
    """
    net = {"T": T, "form": form, "activation": activation, "gamma": gamma, **options}
    traj = F.trajectory(X, V, b, n_layers=n_layers, threads=threads, **net)
    return np.linalg.norm(traj.astype(np.float64, copy=False), axis=2)


def _spectral_norms(J: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix in a stack (..., d, d)."""
    J = np.asarray(J, dtype=np.float64)
    if J.shape[-1] == 1:
        return np.abs(J[..., 0, 0])
    if J.size == 0:
        return np.zeros(J.shape[:-2])
    return np.linalg.svd(J, compute_uv=False)[..., 0]


def input_sensitivity(
    X: Any,
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    n_layers: int | None = None,
    per_layer: bool = False,
    threads: int | None = None,
    **options: Any,
) -> np.ndarray:
    """Sensitivity of the features to input perturbations: ``sigma_max(d x_{L+1} / d x_in)``.

    For each sample, the largest singular value of the input Jacobian
    ``J^i = d x_{L+1}^i / d x_in^i`` (:func:`resode.input_jacobian`): to first order a
    perturbation ``delta`` of the input moves the output by at most
    ``sigma_max(J^i) |delta|``, and by exactly that along the top right singular vector.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Inputs.
    V, b, T, form, activation, gamma, threads :
        As in :func:`resode.forward`.
    n_layers : int, optional
        The number of layers L when the parameters are shared in groups.
    per_layer : bool
        Also the growth over layers: ``sigma_max(d x_{k+1} / d x_in)`` for every k.
        Needs memory for (L + 1) N d^2 numbers.
    **options :
        Further sweep options of :func:`resode.input_jacobian`, passed on.

    Returns
    -------
    numpy.ndarray, float64
        Shape (N,); with ``per_layer=True`` shape (L + 1, N), row 0 being 1 (the
        identity) and row L the final state's.
    """
    per_layer = v.flag("per_layer", per_layer)
    net = {"T": T, "form": form, "activation": activation, "gamma": gamma, **options}
    J = F.input_jacobian(X, V, b, n_layers=n_layers, per_layer=per_layer, threads=threads, **net)
    return _spectral_norms(J)


# -- one-sided Lipschitz constants (Celledoni et al. 2021, section 2.1) ---------------------


@dataclass(frozen=True, repr=False)
class OneSidedLipschitz:
    """Per-layer one-sided Lipschitz constants: a sampled estimate and a guaranteed bound.

    ``estimate[k] <= nu_k <= bound[k]`` where nu_k is the smallest constant with
    ``<f_k(x) - f_k(y), x - y> <= nu_k |x - y|^2`` for all x, y (in the sampled region,
    for the estimate; in all of R^d, for the bound).
    """

    estimate: np.ndarray  # (L,)
    bound: np.ndarray  # (L,)
    method: str
    n_points: int

    def __repr__(self) -> str:
        return (
            f"OneSidedLipschitz(L={len(self.estimate)}, method={self.method!r}, "
            f"n_points={self.n_points}, max estimate={np.max(self.estimate):.4g}, "
            f"max bound={np.max(self.bound):.4g})"
        )


def one_sided_lipschitz(
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    n_layers: int | None = None,
    points: Any = None,
    n_samples: int = 1000,
    scale: float = 3.0,
    method: str = "jacobian",
    seed: int = 0,
    **options: Any,
) -> OneSidedLipschitz:
    """The one-sided Lipschitz constant of each layer's vector field, by sampling.

    Celledoni et al. (2021), section 2.1, eq. (14): nu_k is the smallest constant with

        <f_k(x) - f_k(y), x - y>  <=  nu_k |x - y|^2     for all x, y.

    Two solutions of ``x' = f_k(x)`` then satisfy ``|x(t) - y(t)| <= e^{nu_k t}
    |x(0) - y(0)|``: the flow contracts where nu_k <= 0. (The forward Euler step needs more,
    a step-size restriction; see :func:`stability_bounds` for the discrete network.)

    Estimate (a lower bound on nu_k over the sampled region):

    - ``method='jacobian'``: ``max_i lambda_max(sym(Df_k(p_i)))``, the largest logarithmic
      2-norm ``lambda_max((Df + Df^T) / 2)`` of the Jacobian at the points. For a C^1
      field the supremum of it over a convex region is nu_k of that region.
    - ``method='pairs'``: ``max_i <f_k(p_i) - f_k(q_i), p_i - q_i> / |p_i - q_i|^2`` with
      q a seeded random permutation of the points: definition (14) on random pairs.

    Bound (valid for all x, y in R^d): every form's Jacobian is ``M D`` or ``D M`` or
    ``-V^T D V`` with ``D = diag(s'(.))`` and alpha <= D_jj <= beta, so
    nu_k <= sup over such D of ``lambda_max(sym(.))``:

    - ``symmetric``: exactly ``-alpha sigma_min(V_k)^2`` (Celledoni et al. 2021,
      Theorem 2.1: the flow is nonexpansive, and contractive when s' >= alpha > 0 and V_k
      is invertible);
    - ``inner`` (``V D``), ``outer`` (``D V``), ``antisymmetric`` (``D A``,
      ``A = V - V^T - gamma I``): lambda_max(sym(D M)) is convex in D, so the supremum is
      attained at one of the 2^d vertices D in {alpha, beta}^d, enumerated for d <= 10;
      for d > 10 the relaxation ``c lambda_max(sym(M)) + r ||M||`` with
      ``c = (alpha + beta) / 2``, ``r = (beta - alpha) / 2`` (Weyl's inequality) is used.

    The bound is attained for ``inner`` (any D is reached by some x); for ``outer`` and
    ``antisymmetric`` it can exceed nu_k when M is singular. A remark of Celledoni et
    al. shows in the smallest case: a skew-symmetric V has a positive constant (1/2 for
    ``V = [[0, 1], [-1, 0]]`` with tanh) although the linear field Vx has nu = 0.

    Parameters
    ----------
    V, b : array_like, shapes (L, d, d) and (L, d) (or (G, d, d), (G, d) with groups)
    T : float
        Unused (nu_k does not depend on h); accepted so that ``**network(model)`` can be
        passed, as are the stepping options ``scheme`` and ``project``, which do not
        change f_k.
    form, activation, gamma :
        The vector field; the forms inner, outer, symmetric and antisymmetric.
    n_layers : int, optional
        L when the parameters are shared in groups; groups are evaluated once per layer.
    points : array_like, shape (N, d) or (L, N, d), optional
        Where to sample: the same points for every layer, or per layer (e.g.
        ``model.trajectory(X)[:-1]``, the states each layer acts on). Default:
        ``n_samples`` points ``scale * standard normal``, drawn with ``seed``.
    n_samples, scale, seed :
        The default points.
    method : {'jacobian', 'pairs'}
        The estimator (see above).

    Returns
    -------
    OneSidedLipschitz
        ``.estimate`` and ``.bound``, shape (L,) each (float64).
    """
    _stepping("one_sided_lipschitz", options)
    fld = _Field(V, b, form, activation, gamma, n_layers, "one_sided_lipschitz")
    if not isinstance(method, str) or method not in ("jacobian", "pairs"):
        raise ValueError(f"method must be 'jacobian' or 'pairs', got {method!r}")
    L, d = fld.n_layers, fld.d
    if points is None:
        n_samples = v.integer("n_samples", n_samples)
        scale = v.real("scale", scale)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
        P = scale * np.random.default_rng(seed).standard_normal((n_samples, d))
        P = np.broadcast_to(P, (L, n_samples, d))
    else:
        P = _points(points, L, d)
    N = P.shape[1]
    shared = P.strides[0] == 0  # the same points for every layer: evaluate each group once
    partner = np.random.default_rng(seed).permutation(N) if method == "pairs" else None

    def layer_estimate(g: int, Z: np.ndarray) -> float:
        if method == "jacobian":
            _, J = _field_and_jacobian(fld, g, Z, True)
            return float(np.linalg.eigvalsh(0.5 * (J + J.transpose(0, 2, 1)))[:, -1].max())
        f, _ = _field_and_jacobian(fld, g, Z, False)
        dz, df = Z - Z[partner], f - f[partner]
        dist2 = np.einsum("ij,ij->i", dz, dz)
        keep = dist2 > 0
        if not keep.any():
            raise ValueError("method='pairs' needs at least two distinct points")
        return float((np.einsum("ij,ij->i", df, dz)[keep] / dist2[keep]).max())

    if shared:
        per_group = {g: layer_estimate(g, P[0]) for g in np.unique(fld.group)}
        estimate = np.array([per_group[g] for g in fld.group])
    else:
        estimate = np.array([layer_estimate(g, P[k]) for k, g in enumerate(fld.group)])
    bound = _one_sided_bound(fld)[fld.group]
    return OneSidedLipschitz(estimate=estimate, bound=bound, method=method, n_points=N)


def _one_sided_bound(fld: _Field) -> np.ndarray:
    """Per group: sup over D = diag in [alpha, beta]^d of lambda_max(sym(Jacobian))."""
    alpha, beta, d = fld.alpha, fld.beta, fld.d
    if fld.form == "symmetric":
        smin = np.linalg.svd(fld.V, compute_uv=False)[:, -1]
        return -alpha * smin**2
    # Jacobian D M: M = A (antisymmetric) or V (outer); inner V D has sym(V D) = sym(D V^T)
    M = fld.V.transpose(0, 2, 1) if fld.form == "inner" else fld.matrix()
    if alpha == beta:
        S = alpha * 0.5 * (M + M.transpose(0, 2, 1))
        return np.linalg.eigvalsh(S)[:, -1]
    if d > _MAX_VERTEX_DIM:
        c, r = 0.5 * (alpha + beta), 0.5 * (beta - alpha)
        sym = np.linalg.eigvalsh(0.5 * (M + M.transpose(0, 2, 1)))[:, -1]
        return c * sym + r * np.linalg.svd(M, compute_uv=False)[:, 0]
    bits = (np.arange(2**d)[:, None] >> np.arange(d)) & 1
    D = np.where(bits == 1, beta, alpha)  # (2^d, d): the vertices
    out = np.empty(len(M))
    for g, Mg in enumerate(M):
        DM = D[:, :, None] * Mg[None]
        out[g] = np.linalg.eigvalsh(0.5 * (DM + DM.transpose(0, 2, 1)))[:, -1].max()
    return out


# -- growth and sensitivity bounds (Zhang & Schaeffer 2020) ---------------------------------


@dataclass(frozen=True, repr=False)
class StabilityBounds:
    """Per-layer constants of the growth and sensitivity bounds; see :func:`stability_bounds`.

    Attributes
    ----------
    h : float
        The step T / L.
    rate, offset : numpy.ndarray, shape (L,)
        a_k and c_k of ``|f_k(x)| <= a_k |x| + c_k`` (for ``symmetric`` the one-step
        form, see :func:`stability_bounds`).
    sensitivity_rate : numpy.ndarray, shape (L,)
        lambda_k with ``||I + h Df_k(x)|| <= 1 + h lambda_k`` for all x.
    """

    h: float
    rate: np.ndarray
    offset: np.ndarray
    sensitivity_rate: np.ndarray
    form: str
    activation: str
    norm: str

    @property
    def n_layers(self) -> int:
        return len(self.rate)

    def growth(self, input_norm: Any, *, kind: str = "discrete") -> np.ndarray:
        """Upper bounds on ``|x_{k+1}|`` for inputs of norm ``input_norm``.

        ``kind='discrete'``: ``g_0 = |x_in|``, ``g_{k+1} = (1 + h a_k) g_k + h c_k``.
        ``kind='exp'``: ``(|x_in| + h sum_{j<k} c_j) exp(h sum_{j<k} a_j)``, Zhang &
        Schaeffer's Theorem 3.2 (3.6) with the integrals of the piecewise-constant parameters.
        The discrete bound is the smaller (1 + u <= e^u); both hold for the network.

        Returns an array of shape ``(L + 1, *np.shape(input_norm))``.
        """
        r0 = np.asarray(input_norm, dtype=np.float64)
        if not np.isfinite(r0).all() or (r0 < 0).any():
            raise ValueError("input_norm must be finite and >= 0")
        h, a, c = self.h, self.rate, self.offset
        shape = (1,) * r0.ndim
        if _kind(kind) == "exp":
            A = np.concatenate([[0.0], np.cumsum(h * a)]).reshape(-1, *shape)
            C = np.concatenate([[0.0], np.cumsum(h * c)]).reshape(-1, *shape)
            return (r0 + C) * np.exp(A)
        out = np.empty((self.n_layers + 1, *r0.shape))
        out[0] = r0
        for k in range(self.n_layers):
            out[k + 1] = (1.0 + h * a[k]) * out[k] + h * c[k]
        return out

    def sensitivity(self, *, kind: str = "discrete") -> np.ndarray:
        """Upper bounds on ``sigma_max(d x_{k+1} / d x_in)``, shape (L + 1,).

        ``kind='discrete'``: ``prod_{j<k} (1 + h lambda_j)``; ``kind='exp'``:
        ``exp(h sum_{j<k} lambda_j)`` (Zhang & Schaeffer, Theorem 3.2, (3.7)). Since the network is
        Lipschitz with this constant, it also bounds ``|x_{k+1} - y_{k+1}| / |x_in - y_in|``
        for any two inputs.
        """
        steps = self.h * self.sensitivity_rate
        if _kind(kind) == "exp":
            return np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
        return np.concatenate([[1.0], np.cumprod(1.0 + steps)])

    def __repr__(self) -> str:
        return (
            f"StabilityBounds(L={self.n_layers}, h={self.h:g}, form={self.form!r}, "
            f"activation={self.activation!r}, norm={self.norm!r})"
        )


def _kind(kind: Any) -> str:
    if not isinstance(kind, str) or kind not in ("discrete", "exp"):
        raise ValueError(f"kind must be 'discrete' or 'exp', got {kind!r}")
    return kind


def _matrix_norms(M: np.ndarray, norm: str) -> np.ndarray:
    if norm == "fro":
        return np.sqrt(np.einsum("gij,gij->g", M, M))
    return np.linalg.svd(M, compute_uv=False)[:, 0]


def stability_bounds(
    V: Any,
    b: Any,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    gamma: float = 0.0,
    n_layers: int | None = None,
    norm: str = "spectral",
    **options: Any,
) -> StabilityBounds:
    """Growth and sensitivity bounds in the style of Zhang & Schaeffer (2020), per layer.

    Zhang & Schaeffer bound the continuous-time ResNet ``x' = K_2 s(K_1 x + b_1) + b_2`` by

        |x(t)| <= (|x(0)| + int_0^t (|K_2| |b_1| + |b_2|)) exp(int_0^t |K_2| |K_1|)   (3.6)
        |x(t) - y(t)| <= |x(0) - y(0)| exp(int_0^t |K_2| |K_1|)                        (3.7)

    Here the same argument is applied to each form with the parameters constant on each
    layer's time interval, and to the Euler steps themselves. With ``s(u) - s(w) =
    D (u - w)``, ``D`` diagonal with entries in [alpha, beta] (s is nondecreasing and
    beta-Lipschitz):

    ==============  ====================  =====================  ========================
    form            rate a_k              offset c_k             sensitivity rate l_k
    ==============  ====================  =====================  ========================
    inner           beta ||V_k||          |V_k s(0) + b_k|       beta ||V_k||
    outer           beta ||V_k||          |s(b_k)|               beta ||V_k||
    antisymmetric   beta ||A_k||          |s(b_k)|               beta ||A_k||
    symmetric       (q_k - 1) / h         ||V_k|| |s(b_k)|       (q_k - 1) / h
    ==============  ====================  =====================  ========================

    with ``A_k = V_k - V_k^T - gamma I`` and, for ``symmetric``,
    ``q_k = max(1, h beta ||V_k||^2 - 1)``: the step is
    ``x - h V^T s(V x + b) = (I - h V^T D V) x - h V^T s(b)`` and
    ``||I - h V^T D V|| <= q_k``, so a layer does not expand when
    ``h beta ||V_k||^2 <= 2`` (Zhang & Schaeffer, Lemma A.1, Theorem 4.2), whatever
    the depth. Then for every input and every layer of the *discrete* network

        |x_{k+1}| <= (1 + h a_k) |x_k| + h c_k,
        ||d x_{k+1} / d x_k|| <= 1 + h l_k,

    which :meth:`StabilityBounds.growth` and :meth:`StabilityBounds.sensitivity` chain
    (``kind='discrete'``) or relax to Zhang & Schaeffer's exponential form (``kind='exp'``, using
    1 + u <= e^u: the integrals of (3.6)-(3.7) become ``h sum_k``).

    Parameters
    ----------
    V, b, T, form, activation, gamma :
        The network (forms inner, outer, symmetric and antisymmetric).
    n_layers : int, optional
        L when the parameters are shared in groups.
    norm : {'spectral', 'fro'}
        The matrix norm ``||.||``: the spectral norm (the sharp choice) or the Frobenius
        norm, which bounds it and is what the Tikhonov term ``w2`` penalises.
    **options :
        ``scheme`` and ``project``, when the installed resode has them: the bounds are
        derived for forward Euler steps (``scheme='euler'``; other schemes raise
        ValueError). A ReLU projection after each step (``project='relu'``, Zhang &
        Schaeffer's post-activation ResNet) keeps them valid: ``relu`` is nonexpansive and
        ``|relu(u)| <= |u|``.

    Returns
    -------
    StabilityBounds
    """
    opts = _stepping("stability_bounds", options)
    if opts.get("scheme") not in (None, "euler"):
        raise ValueError(
            f"stability_bounds are derived for forward Euler steps (scheme='euler'), "
            f"not scheme={opts['scheme']!r}"
        )
    if opts.get("project") not in (None, "relu"):
        raise ValueError(f"stability_bounds: unknown project={opts['project']!r}")
    fld = _Field(V, b, form, activation, gamma, n_layers, "stability_bounds")
    if not isinstance(norm, str) or norm not in ("spectral", "fro"):
        raise ValueError(f"norm must be 'spectral' or 'fro', got {norm!r}")
    T = v.real("T", T, positive=True)
    L = fld.n_layers
    h = T / L
    beta, s = fld.beta, fld.s
    if fld.form == "inner":
        nV = _matrix_norms(fld.V, norm)
        rate = sens = beta * nV
        offset = np.linalg.norm(fld.V @ s(np.zeros(fld.d)) + fld.b, axis=1)
    elif fld.form in ("outer", "antisymmetric"):
        rate = sens = beta * _matrix_norms(fld.matrix(), norm)
        offset = np.linalg.norm(s(fld.b), axis=1)
    else:
        nV = _matrix_norms(fld.V, norm)
        q = np.maximum(1.0, h * beta * nV**2 - 1.0)
        rate = sens = (q - 1.0) / h
        offset = nV * np.linalg.norm(s(fld.b), axis=1)
    g = fld.group
    return StabilityBounds(
        h=h,
        rate=np.asarray(rate, dtype=np.float64)[g],
        offset=np.asarray(offset, dtype=np.float64)[g],
        sensitivity_rate=np.asarray(sens, dtype=np.float64)[g],
        form=fld.form,
        activation=fld.activation,
        norm=norm,
    )


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class StabilityReport:
    """Measured feature growth and input sensitivity of a model beside their bounds.

    Attributes (L layers, N samples; k = 0 is the input, k = L the final state)
    ----------
    t : (L + 1,) times ``k h``.
    feature_norms : (L + 1, N) measured ``|x_k^i|`` (:func:`feature_norms`).
    sensitivity : (L + 1, N) measured ``sigma_max(d x_k^i / d x_in^i)``
        (:func:`input_sensitivity` with ``per_layer=True``).
    growth_bound, growth_bound_exp : (L + 1, N) the discrete and exponential bounds on
        ``|x_k^i|`` given ``|x_in^i|`` (:meth:`StabilityBounds.growth`).
    sensitivity_bound, sensitivity_bound_exp : (L + 1,) the bounds on the sensitivity.
    lipschitz : one-sided Lipschitz constants of the layers, estimated at the states each
        layer acts on (:func:`one_sided_lipschitz` with ``points = trajectory[:-1]``).
    bounds : the per-layer constants.
    """

    t: np.ndarray
    feature_norms: np.ndarray
    sensitivity: np.ndarray
    growth_bound: np.ndarray
    growth_bound_exp: np.ndarray
    sensitivity_bound: np.ndarray
    sensitivity_bound_exp: np.ndarray
    lipschitz: OneSidedLipschitz
    bounds: StabilityBounds
    description: str = field(default="")

    @property
    def n_layers(self) -> int:
        return len(self.t) - 1

    def table(self, max_rows: int = 12) -> str:
        """The measured maxima over samples beside the bounds, as text.

        Columns: layer k, time t_k, ``max_i |x_k^i|`` with its discrete and exponential
        bounds, ``max_i sigma_max(J_k^i)`` with its bounds, and (k < L) the layer's
        sampled one-sided Lipschitz constant and its bound. At most ``max_rows`` layers
        are shown (evenly spaced, first and last always).
        """
        max_rows = v.integer("max_rows", max_rows, 2)
        L = self.n_layers
        rows = np.unique(np.linspace(0, L, min(L + 1, max_rows)).round().astype(int))
        if self.feature_norms.shape[1]:
            fmax, smax = self.feature_norms.max(axis=1), self.sensitivity.max(axis=1)
            gmax, gexp = self.growth_bound.max(axis=1), self.growth_bound_exp.max(axis=1)
        else:  # no samples: nothing measured
            fmax = smax = gmax = gexp = np.full(L + 1, np.nan)
        head = (
            f"{'k':>4} {'t':>7} | {'max|x_k|':>10} {'bound':>10} {'exp bound':>10} | "
            f"{'max sig(J)':>10} {'bound':>10} {'exp bound':>10} | {'nu_k est':>9} {'nu_k <=':>9}"
        )
        lines = [self.description, head, "-" * len(head)] if self.description else [head]
        for k in rows:
            lip = (
                f"{self.lipschitz.estimate[k]:>9.3g} {self.lipschitz.bound[k]:>9.3g}"
                if k < L
                else f"{'':>9} {'':>9}"
            )
            lines.append(
                f"{k:>4} {self.t[k]:>7.3g} | {fmax[k]:>10.4g} {gmax[k]:>10.4g} {gexp[k]:>10.4g}"
                f" | {smax[k]:>10.4g} {self.sensitivity_bound[k]:>10.4g} "
                f"{self.sensitivity_bound_exp[k]:>10.4g} | {lip}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (
            f"StabilityReport(L={self.n_layers}, N={self.feature_norms.shape[1]}, "
            f"form={self.bounds.form!r})"
        )


def stability_report(
    model: Any,
    X: Any,
    *,
    norm: str = "spectral",
    threads: int | None = None,
) -> StabilityReport:
    """Feature growth and input sensitivity of a model on data, beside Zhang & Schaeffer's bounds.

    Runs :func:`feature_norms`, :func:`input_sensitivity` (per layer),
    :func:`stability_bounds` and :func:`one_sided_lipschitz` (at the states of the
    trajectory) for ``model`` on the inputs X; ``print(report)`` shows the table of
    :meth:`StabilityReport.table`. Every measured value is at most its bound.

    Parameters
    ----------
    model : resode.ResNetODE
        A model with the form inner, outer, symmetric or antisymmetric.
    X : array_like, shape (N, n_features <= model.dim)
        Inputs (zero-padded to ``model.dim``). Memory: the per-layer Jacobians need
        (L + 1) N d^2 numbers.
    norm : {'spectral', 'fro'}
        The matrix norm in the bounds.
    """
    if not hasattr(model, "prepare_inputs"):
        raise TypeError(f"model must be a resode.ResNetODE, got {type(model).__name__}")
    Xp = model.initial_states(X)
    opts = sweep_options(model)  # T, form, activation, gamma (and stepping options)
    V, b, n_layers = model.V, model.b, model.n_layers
    bounds = stability_bounds(V, b, n_layers=n_layers, norm=norm, **opts)
    traj = F.trajectory(Xp, V, b, n_layers=n_layers, threads=threads, **opts)
    norms = np.linalg.norm(traj.astype(np.float64, copy=False), axis=2)
    J = F.input_jacobian(Xp, V, b, n_layers=n_layers, per_layer=True, threads=threads, **opts)
    sens = _spectral_norms(J)
    points = traj[:-1] if len(Xp) else None
    lip = one_sided_lipschitz(model.V, model.b, n_layers=n_layers, points=points, **opts)
    L = bounds.n_layers
    description = (
        f"L={L}, T={model.T:g}, h={bounds.h:g}, form={model.form}, "
        f"activation={model.activation}, N={len(Xp)} samples, norm={norm}; "
        "measured values are maxima over samples"
    )
    return StabilityReport(
        t=bounds.h * np.arange(L + 1),
        feature_norms=norms,
        sensitivity=sens,
        growth_bound=bounds.growth(norms[0], kind="discrete"),
        growth_bound_exp=bounds.growth(norms[0], kind="exp"),
        sensitivity_bound=bounds.sensitivity(kind="discrete"),
        sensitivity_bound_exp=bounds.sensitivity(kind="exp"),
        lipschitz=lip,
        bounds=bounds,
        description=description,
    )
