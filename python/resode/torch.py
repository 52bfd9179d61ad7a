"""resode's sweeps as PyTorch operators and an ``nn.Module`` (extra ``torch``).

:func:`forward` and :func:`trajectory` run the forward sweep in C++; their
backward pass is resode's adjoint sweep (:func:`resode.functional.vjp`), not
autograd through the layers, so a block of L layers is one node of the graph.
Both are ``torch.library`` custom operators (``resode::forward``,
``resode::vjp``), with fake (meta) kernels so that ``torch.compile(fullgraph=True)``
traces them without graph breaks. CPU tensors of dtype float32 or float64.
"""

# No ``from __future__ import annotations``: torch.library reads the operators'
# schemas from the annotations, which must be real types.
import warnings
from typing import Any, Optional

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised without torch installed
    raise ImportError(
        "resode.torch needs PyTorch: pip install 'resode[torch]' (or install torch yourself)"
    ) from exc

from . import _validation as v
from . import functional as F
from .model import ResNetODE, ZeroGradientWarning

__all__ = ["ODEBlock", "forward", "trajectory"]

_DTYPES = (torch.float32, torch.float64)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous NumPy view (a copy only when t is not contiguous)."""
    return t.detach().contiguous().numpy()


def _options(T, form, activation, scheme, gamma, project, n_layers, threads) -> dict:
    return dict(
        T=T, form=form, activation=activation, scheme=scheme, gamma=gamma,
        project=project, n_layers=n_layers, threads=threads,
    )  # fmt: skip


@torch.library.custom_op("resode::forward", mutates_args=(), device_types="cpu")
def _forward_op(
    x: torch.Tensor,
    V: torch.Tensor,
    b: torch.Tensor,
    trajectory: bool,
    T: float,
    form: str,
    activation: str,
    scheme: str,
    gamma: float,
    project: Optional[str],  # noqa: UP045 - torch.library's schema inference needs Optional
    n_layers: Optional[int],  # noqa: UP045
    threads: Optional[int],  # noqa: UP045
) -> torch.Tensor:
    run = F.trajectory if trajectory else F.forward
    opts = _options(T, form, activation, scheme, gamma, project, n_layers, threads)
    return torch.from_numpy(run(_numpy(x), _numpy(V), _numpy(b), **opts))


@_forward_op.register_fake
def _(x, V, b, trajectory, T, form, activation, scheme, gamma, project, n_layers, threads):
    L = V.shape[0] if n_layers is None else n_layers
    return x.new_empty((L + 1, *x.shape) if trajectory else x.shape)


@torch.library.custom_op("resode::vjp", mutates_args=(), device_types="cpu")
def _vjp_op(
    x: torch.Tensor,
    V: torch.Tensor,
    b: torch.Tensor,
    cotangent: torch.Tensor,
    trajectory: bool,
    T: float,
    form: str,
    activation: str,
    scheme: str,
    gamma: float,
    project: Optional[str],  # noqa: UP045
    n_layers: Optional[int],  # noqa: UP045
    threads: Optional[int],  # noqa: UP045
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    opts = _options(T, form, activation, scheme, gamma, project, n_layers, threads)
    dX, dV, db = F.vjp(
        _numpy(x), _numpy(V), _numpy(b), _numpy(cotangent), trajectory=trajectory, **opts
    )
    return torch.from_numpy(dX), torch.from_numpy(dV), torch.from_numpy(db)


@_vjp_op.register_fake
def _(x, V, b, cotangent, trajectory, T, form, activation, scheme, gamma, project, n_layers, th):
    return torch.empty_like(x), torch.empty_like(V), torch.empty_like(b)


def _setup_context(ctx, inputs, output):
    x, V, b, *options = inputs
    ctx.save_for_backward(x, V, b)
    ctx.options = options


def _backward(ctx, grad):
    x, V, b = ctx.saved_tensors
    return (*_vjp_op(x, V, b, grad, *ctx.options), *[None] * len(ctx.options))


_forward_op.register_autograd(_backward, setup_context=_setup_context)


def _no_double_backward(ctx, *grads):
    raise RuntimeError(
        "resode.torch: second derivatives (double backward, create_graph=True) of the ODE "
        "block are not supported; its backward pass is resode's adjoint sweep"
    )


def _vjp_setup_context(ctx, inputs, output):
    pass


_vjp_op.register_autograd(_no_double_backward, setup_context=_vjp_setup_context)


def _check_tensor(name: str, t: Any, dtype: Optional[torch.dtype] = None) -> None:  # noqa: UP045
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(
            f"{name} is on device {t.device}; resode's kernels run on the CPU: "
            f"move it there with {name}.cpu() (and the result back with .to(device))"
        )
    if t.dtype not in _DTYPES:
        raise TypeError(f"{name} must have dtype torch.float32 or torch.float64, got {t.dtype}")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {t.dtype} but x has {dtype}; convert one of them, "
            f"e.g. {name}.to({dtype})"
        )


def _check(x, V, b, form: str, n_layers: Optional[int]) -> None:  # noqa: UP045
    _check_tensor("x", x)
    _check_tensor("V", V, x.dtype)
    _check_tensor("b", b, x.dtype)
    v.check_block_shapes(form, x.shape, V.shape, b.shape)
    if n_layers is not None:
        v.integer("n_layers", n_layers)


def _call(x, V, b, trajectory, T, form, activation, scheme, gamma, project, n_layers, threads):
    _check(x, V, b, form, n_layers)
    return _forward_op(
        x, V, b, trajectory, float(T), form, activation, scheme, float(gamma), project,
        n_layers, threads,
    )  # fmt: skip


def forward(
    x: torch.Tensor,
    V: torch.Tensor,
    b: torch.Tensor,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    scheme: str = "euler",
    gamma: float = 0.0,
    project: Optional[str] = None,  # noqa: UP045
    n_layers: Optional[int] = None,  # noqa: UP045
    threads: Optional[int] = None,  # noqa: UP045
) -> torch.Tensor:
    """The final states x_{L+1} (N, d) of :func:`resode.forward`, differentiable in x, V, b.

    The arguments are those of :func:`resode.forward`, as CPU tensors of one
    dtype (float32 or float64). The backward pass is resode's adjoint sweep in
    C++; it recomputes the states inside the kernel (see :func:`resode.vjp`),
    so nothing but x, V and b is kept for it. Second derivatives are not supported.
    """
    return _call(x, V, b, False, T, form, activation, scheme, gamma, project, n_layers, threads)


def trajectory(
    x: torch.Tensor,
    V: torch.Tensor,
    b: torch.Tensor,
    *,
    T: float = 1.0,
    form: str = "inner",
    activation: str = "tanh",
    scheme: str = "euler",
    gamma: float = 0.0,
    project: Optional[str] = None,  # noqa: UP045
    n_layers: Optional[int] = None,  # noqa: UP045
    threads: Optional[int] = None,  # noqa: UP045
) -> torch.Tensor:
    """All states (L+1, N, d) of :func:`resode.trajectory`, differentiable in x, V, b.

    The backward pass takes a gradient for every state (the adjoint sweep adds
    each to the costate on its way back). Arguments as for :func:`forward`.
    """
    return _call(x, V, b, True, T, form, activation, scheme, gamma, project, n_layers, threads)


class ODEBlock(torch.nn.Module):
    """A residual network ``x_{k+1} = Phi_k(x_k)`` of ``n_layers`` steps as a PyTorch module.

    ``forward(x)`` maps (N, dim) to the final states (N, dim). The parameters
    ``V`` and ``b`` have the form's shapes with a leading axis of
    ``ceil(n_layers / share)`` groups (see :class:`resode.ResNetODE`, which draws
    the initial values: ``init``, ``init_scale``, ``seed``). ``dtype`` defaults
    to torch's default dtype. :meth:`to_model` and :meth:`from_model` convert the
    layers to and from a :class:`resode.ResNetODE` (state head), to save them with
    :meth:`resode.ResNetODE.save` or study them with resode's plots and analysis.
    """

    def __init__(
        self,
        dim: int,
        n_layers: int,
        *,
        T: float = 1.0,
        form: str = "inner",
        activation: str = "tanh",
        scheme: str = "euler",
        gamma: float = 0.0,
        project: Optional[str] = None,  # noqa: UP045
        share: int = 1,
        init: str = "uniform",
        init_scale: float = 0.1,
        seed: Optional[int] = None,  # noqa: UP045
        dtype: Optional[torch.dtype] = None,  # noqa: UP045
        threads: Optional[int] = None,  # noqa: UP045
    ):
        super().__init__()
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _DTYPES:
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        model = ResNetODE(
            dim, n_layers, T=T, form=form, activation=activation, scheme=scheme, gamma=gamma,
            project=project, share=share, init=init, init_scale=init_scale, seed=seed,
            dtype=str(dtype).removeprefix("torch."),
        )  # fmt: skip
        self._load(model)
        self.threads = threads

    def _load(self, model: ResNetODE) -> None:
        self.dim, self.n_layers, self.T = model.dim, model.n_layers, model.T
        self.form, self.activation, self.scheme = model.form, model.activation, model.scheme
        self.gamma, self.project, self.share = model.gamma, model.project, model.share
        self.V = torch.nn.Parameter(torch.from_numpy(model.V.copy()))
        self.b = torch.nn.Parameter(torch.from_numpy(model.b.copy()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return forward(
            x, self.V, self.b, T=self.T, form=self.form, activation=self.activation,
            scheme=self.scheme, gamma=self.gamma, project=self.project,
            n_layers=self.n_layers, threads=self.threads,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, n_layers={self.n_layers}, T={self.T}, form={self.form!r}, "
            f"activation={self.activation!r}, scheme={self.scheme!r}"
        )

    def to_model(self) -> ResNetODE:
        """A :class:`resode.ResNetODE` (state head) with these layers' parameters (copied)."""
        with warnings.catch_warnings():  # zeros are replaced below
            warnings.simplefilter("ignore", ZeroGradientWarning)
            model = ResNetODE(
                self.dim, self.n_layers, T=self.T, form=self.form, activation=self.activation,
                scheme=self.scheme, gamma=self.gamma, project=self.project, share=self.share,
                init="zeros", dtype=str(self.V.dtype).removeprefix("torch."),
            )  # fmt: skip
        return model.set_parameters(V=_numpy(self.V), b=_numpy(self.b))

    @classmethod
    def from_model(cls, model: ResNetODE, *, threads: Optional[int] = None) -> "ODEBlock":  # noqa: UP045
        """The layers of a :class:`resode.ResNetODE` as a block (its opening layer and head,
        if any, are left out)."""
        if not isinstance(model, ResNetODE):
            raise TypeError(f"model must be a resode.ResNetODE, got {type(model).__name__}")
        block = cls.__new__(cls)
        torch.nn.Module.__init__(block)
        block._load(model)
        block.threads = threads
        return block
