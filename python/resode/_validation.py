"""Conversion and checking of user input, shared by every public entry point.

Every failure is a TypeError (wrong kind of thing) or ValueError (right kind,
wrong value or shape) whose message names the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple, overload

import numpy as np

FORMS = (
    "inner",
    "outer",
    "symmetric",
    "antisymmetric",
    "resnet_d",
    "hamiltonian",
    "hamiltonian_hr",
)
HAMILTONIAN_FORMS = ("hamiltonian", "hamiltonian_hr")
SCHEMES = ("euler", "heun", "rk4", "symplectic_euler", "verlet")
SYMPLECTIC_SCHEMES = ("symplectic_euler", "verlet")
PROJECTIONS = ("relu",)
ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "leaky_relu", "identity")
HEADS = ("state", "linear", "softmax", "logistic")
CLASSIFIER_HEADS = ("softmax", "logistic")
COMPUTE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _array(name: str, value: Any) -> np.ndarray:
    """value as an ndarray of real numbers (bool, integer, float32, float64)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    if not arr.dtype.isnative:  # big-endian data from a file: same numbers, native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and arr.dtype not in COMPUTE_DTYPES):
        raise TypeError(
            f"{name} must hold real numbers (float32, float64, integer or bool), "
            f"got dtype {arr.dtype}"
        )
    return arr


def _check_finite(name: str, arr: np.ndarray) -> None:
    """In chunks, so that checking millions of samples needs no N-sized temporary."""
    if arr.dtype.kind != "f":
        return
    flat = arr.reshape(-1)
    chunk = 1 << 16
    if flat.size <= chunk:  # the common case in one call (training steps make many)
        if not np.isfinite(flat).all():
            raise ValueError(f"{name} contains non-finite values (inf or NaN)")
        return
    for start in range(0, flat.size, chunk):
        if not np.isfinite(flat[start : start + chunk]).all():
            raise ValueError(f"{name} contains non-finite values (inf or NaN)")


def _shape_error(name: str, expected: str, arr: np.ndarray) -> ValueError:
    return ValueError(f"{name} must have shape {expected}, got {arr.shape}")


def kernel_array(arr: np.ndarray, dtype) -> np.ndarray:
    """arr as the kernels take it: C-contiguous, aligned, of dtype; copied only when it
    is not already (an unaligned buffer, e.g. from np.frombuffer or Dask's
    serialisation, is copied once)."""
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.aligned:
        return arr  # np.require's checks cost more than the kernel call on small batches
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def compute_dtype(X: Any) -> np.dtype:
    """float32 / float64 arrays keep their precision; everything else computes in float64."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.dtype.itemsize in (4, 8):
        return np.dtype(np.float32 if X.dtype.itemsize == 4 else np.float64)
    return np.dtype(np.float64)


def as_states(X: Any) -> np.ndarray:
    """X as a finite C-contiguous (N, d) array in its compute dtype."""
    arr = _array("X", X)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array (N, d), got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"X must have d >= 1 columns, got shape {arr.shape}")
    arr = kernel_array(arr, compute_dtype(X))
    _check_finite("X", arr)
    return arr


def as_param(
    name: str, value: Any, dtype: np.dtype, shape: tuple[int, ...], expected: str
) -> np.ndarray:
    """A parameter or target array in the compute dtype.

    A float array of the other precision is refused rather than silently
    rounded; bool / integer arrays and lists are converted.
    """
    arr = _array(name, value)
    if isinstance(value, np.ndarray) and arr.dtype.kind == "f" and arr.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {arr.dtype} but the compute dtype (that of X) is {dtype}; "
            f"convert one of them, e.g. {name}.astype(np.{dtype})"
        )
    if arr.shape != shape:
        raise _shape_error(name, expected, arr)
    arr = kernel_array(arr, dtype)
    _check_finite(name, arr)
    return arr


def as_labels(name: str, value: Any, n: int, n_classes: int) -> np.ndarray:
    """Class labels as int64 in [0, n_classes)."""
    arr = _array(name, value)
    if arr.shape != (n,):
        raise _shape_error(name, f"(N,) = ({n},) of class labels", arr)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integral values")
    if n and arr.dtype.kind in "iuf" and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(f"{name} labels must lie in [0, {n_classes}), got {bad}")
    return kernel_array(arr, np.int64)


@overload
def as_sample_weight(value: None, n: int, dtype: np.dtype) -> None: ...
@overload
def as_sample_weight(value: Any, n: int, dtype: np.dtype) -> np.ndarray | None: ...
def as_sample_weight(value: Any, n: int, dtype: np.dtype) -> np.ndarray | None:
    if value is None:
        return None
    arr = _array("sample_weight", value)
    if arr.shape != (n,):
        raise _shape_error("sample_weight", f"(N,) = ({n},)", arr)
    arr = kernel_array(arr, dtype)
    _check_finite("sample_weight", arr)
    if n and arr.min() < 0:
        raise ValueError("sample_weight must be >= 0")
    return arr


def real(name: str, value: Any, *, positive: bool = False) -> float:
    """A finite real scalar, >= 0 (or > 0 when positive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def integer(name: str, value: Any, minimum: int = 1) -> int:
    """An integer (Python or NumPy, not bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}; got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def threads(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"threads must be None or an integer >= 1, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"threads must be None or an integer >= 1, got {value}")
    return int(value)


def checkpoint_every(value: Any, n_layers: int) -> int:
    """The segment length of a checkpointed gradient sweep; 0 stores every state."""
    if value is None:
        return 0
    if isinstance(value, str):
        if value != "sqrt":
            raise ValueError(
                f"checkpoint_every must be None, an integer >= 1 or 'sqrt', got {value!r}"
            )
        return max(1, int(np.ceil(np.sqrt(n_layers))))
    return integer("checkpoint_every", value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(what: str, nbytes: int) -> None:
    """MemoryError before allocating an output that cannot fit (rather than the OOM killer)."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} needs {nbytes / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB of "
            "memory is available"
        )


class NetworkArgs(NamedTuple):
    X: np.ndarray
    V: np.ndarray
    b: np.ndarray
    T: float
    form: str
    activation: str
    gamma: float
    threads: int | None
    scheme: str = "euler"
    project: bool = False
    n_layers: int = 1

    @property
    def options(self):
        from . import _core

        return _core.NetOptions(
            self.T, self.form, self.activation, self.scheme, self.gamma, self.project, self.n_layers
        )


def param_shapes(form: str, d: int) -> tuple[tuple[int, ...], tuple[int, ...], str, str]:
    """Per-layer shapes of V and b for a form at state dimension d, and their names."""
    if form == "resnet_d":
        return (2, d, d), (2, d), "(2, d, d) = [K, A]", "(2, d) = [b, c]"
    if form in HAMILTONIAN_FORMS:
        if d % 2:
            raise ValueError(
                f"form={form!r} splits the state into halves (y, z): d must be even, got d = {d}"
            )
        m = d // 2
        if form == "hamiltonian":
            return (2, m, m), (2, m), "(2, d/2, d/2) = [K1, K2]", "(2, d/2) = [b1, b2]"
        return (m, m), (2, m), "(d/2, d/2) = K", "(2, d/2) = [b1, b2]"
    return (d, d), (d,), "(d, d)", "(d,)"


def check_block_shapes(form: str, x_shape, V_shape, b_shape) -> str:
    """Checks the shapes of a framework layer's x (N, d), V and b (L, ...); returns the form.

    For the PyTorch and JAX layers, whose tensors are checked before any conversion.
    """
    form = choice("form", form, FORMS)
    if len(x_shape) != 2:
        raise ValueError(f"x must be 2-D (N, d), got shape {tuple(x_shape)}")
    v_want, b_want, v_name, b_name = param_shapes(form, x_shape[1])
    for name, got, shape, what in (("V", V_shape, v_want, v_name), ("b", b_shape, b_want, b_name)):
        if len(got) != len(shape) + 1 or tuple(got[1:]) != shape or got[0] < 1:
            raise ValueError(
                f"{name} must have shape (L, *{what}) = (L, {', '.join(map(str, shape))}) for "
                f"form={form!r} at d = {x_shape[1]}, got {tuple(got)}"
            )
    if V_shape[0] != b_shape[0]:
        raise ValueError(
            f"V and b must have the same number of layers: {V_shape[0]} != {b_shape[0]}"
        )
    return form


def network_args(
    X, V, b, T, form, activation, gamma, n_threads, scheme="euler", project=None, n_layers=None
) -> NetworkArgs:
    form = choice("form", form, FORMS)
    activation = choice("activation", activation, ACTIVATIONS)
    scheme = choice("scheme", scheme, SCHEMES)
    if project is not None:
        project = choice("project", project, PROJECTIONS)
    if scheme in SYMPLECTIC_SCHEMES and form not in HAMILTONIAN_FORMS:
        raise ValueError(
            f"scheme={scheme!r} integrates a split (Hamiltonian) system: it needs form "
            f"'hamiltonian' or 'hamiltonian_hr', got form={form!r}"
        )
    T = real("T", T, positive=True)
    gamma = real("gamma", gamma)
    if gamma > 0 and form != "antisymmetric":
        raise ValueError(f"gamma > 0 applies only to form='antisymmetric', got form={form!r}")
    X = as_states(X)
    d = X.shape[1]
    v_shape, b_shape, v_name, b_name = param_shapes(form, d)
    V_arr = _array("V", V)
    if V_arr.ndim != 1 + len(v_shape) or V_arr.shape[1:] != v_shape:
        raise _shape_error(
            "V", f"(L, {', '.join(map(str, v_shape))}) for form={form!r}: (L,) + {v_name}", V_arr
        )
    G = V_arr.shape[0]
    if G < 1:
        raise ValueError("V must hold L >= 1 layers, got shape (0, ...)")
    L = G if n_layers is None else integer("n_layers", n_layers, minimum=1)
    if L > 2**40:
        raise ValueError(f"n_layers must be at most 2**40, got {L}")
    share = -(-L // G)
    if -(-L // share) != G:
        raise ValueError(
            f"n_layers = {L} cannot be cut into len(V) = {G} groups of consecutive layers of equal "
            f"size (groups of m = ceil(L / len(V)) = {share} layers make {-(-L // share)} groups)"
        )
    V = as_param("V", V, X.dtype, (G, *v_shape), f"{(G, *v_shape)}")
    b = as_param("b", b, X.dtype, (G, *b_shape), f"{(G, *b_shape)}: (L,) + {b_name}")
    return NetworkArgs(
        X, V, b, T, form, activation, gamma, threads(n_threads), scheme, project == "relu", L
    )


class CostArgs(NamedTuple):
    Y: np.ndarray
    head: str
    W: np.ndarray | None
    mu: np.ndarray | None
    w1: float
    w2: float
    w_head: float
    sample_weight: np.ndarray | None


def cost_args(net: NetworkArgs, Y, head, W, mu, w1, w2, w_head, sample_weight) -> CostArgs:
    head = choice("head", head, HEADS)
    w1, w2, w_head = real("w1", w1), real("w2", w2), real("w_head", w_head)
    if w1 > 0 and head != "state":
        raise ValueError(
            f"w1 > 0 (the running cost) applies only to head='state', got head={head!r}"
        )
    n, d = net.X.shape
    dtype = net.X.dtype
    if head == "state":
        for name, value in (("W", W), ("mu", mu)):
            if value is not None:
                raise ValueError(f"{name} must be None for head='state' (it has no parameters)")
        Y = head_targets(head, Y, n, d, dtype)
        return CostArgs(
            Y, head, None, None, w1, w2, w_head, as_sample_weight(sample_weight, n, dtype)
        )

    for name, value in (("W", W), ("mu", mu)):
        if value is None:
            raise ValueError(f"{name} is required for head={head!r}")
    W_arr = _array("W", W)
    if W_arr.ndim != 2 or W_arr.shape[1] != d:
        raise _shape_error("W", f"(m, d) = (m, {d})", W_arr)
    m = W_arr.shape[0]
    if head == "linear" and m < 1:
        raise ValueError(f"W must have m >= 1 rows for head='linear', got shape {W_arr.shape}")
    if head == "softmax" and m < 2:
        raise ValueError(
            f"W must have C >= 2 rows (classes) for head='softmax', got shape {W_arr.shape}"
        )
    if head == "logistic" and m != 1:
        raise ValueError(f"W must have shape (1, {d}) for head='logistic', got {W_arr.shape}")
    W = as_param("W", W, dtype, (m, d), f"({m}, {d})")
    mu = as_param("mu", mu, dtype, (m,), f"({m},)")
    Y = head_targets(head, Y, n, m, dtype)
    return CostArgs(Y, head, W, mu, w1, w2, w_head, as_sample_weight(sample_weight, n, dtype))


def no_samples(dtype, n_features: int, head: str, target_columns: int) -> tuple:
    """(X, Y) with zero rows: a cost on them is its penalties alone, so that the
    penalties' formulas stay in one place (the kernel)."""
    if head in CLASSIFIER_HEADS:
        Y0 = np.zeros(0, dtype=np.int64)
    else:
        Y0 = np.zeros((0, target_columns), dtype=dtype)
    return np.zeros((0, n_features), dtype=dtype), Y0


def head_targets(head: str, Y: Any, n: int, m: int, dtype: np.dtype) -> np.ndarray:
    """The targets of n samples as the kernel takes them for a head with m outputs
    (m = d for 'state'): states or regression targets (n, m) in dtype, or int64 labels."""
    if head == "state":
        return as_param("Y", Y, dtype, (n, m), f"(N, d) = ({n}, {m}) of target states")
    if head == "linear":
        expected = f"(N, m) = ({n}, {m}) of regression targets"
        if m == 1 and np.shape(Y) == (n,):  # one target per sample may come as a vector
            return as_param("Y", Y, dtype, (n,), expected).reshape(n, 1)
        return as_param("Y", Y, dtype, (n, m), expected)
    return as_labels("Y", Y, n, m if head == "softmax" else 2)
