"""resode: residual networks as forward-Euler neural ODEs, with exact discrete adjoints.

The functional API::

    resode.forward(X, V, b, T=1.0, form="inner", activation="tanh")
    resode.trajectory(...)
    resode.loss(X, Y, V, b, ...)
    resode.loss_and_grad(X, Y, V, b, ...) -> resode.LossGrad

See DESIGN.md for the mathematics and ``resode.build_info()`` for the build.
"""

from __future__ import annotations

from ._errors import NonFiniteError
from .functional import LossGrad, build_info, forward, loss, loss_and_grad, trajectory

__version__: str = build_info()["version"]

__all__ = [
    "LossGrad",
    "NonFiniteError",
    "__version__",
    "build_info",
    "forward",
    "loss",
    "loss_and_grad",
    "trajectory",
]
