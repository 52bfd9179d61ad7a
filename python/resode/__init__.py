"""resode: residual networks as forward-Euler neural ODEs, with exact discrete adjoints.

Functional API (arrays in, arrays out)::

    resode.forward(X, V, b, T=1.0, form="inner", activation="tanh")
    resode.trajectory(...)
    resode.loss(X, Y, V, b, ...)
    resode.loss_and_grad(X, Y, V, b, ...) -> resode.LossGrad

Models and training::

    model = resode.ResNetODE(dim=3, n_layers=20, head="softmax", n_classes=2, seed=0)
    history = model.fit(X, y, optimizer="adam", epochs=200)
    model.save("model.npz"); model = resode.load("model.npz")

The mathematics (the discrete problem, forms, heads, schemes and the adjoint) is in
docs/mathematics.md; ``resode.build_info()`` describes the build.
"""

from __future__ import annotations

import os

# libgomp reads its wait policy once, when _core loads it. Its default spins idle
# threads at the ordered block reduction, which made threads=2 up to 3.7x slower
# than threads=1 when another process wanted the cores; passive waiting never was
# slower in our measurements. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._errors import NonFiniteError
from .functional import (
    LossGrad,
    build_info,
    costates,
    forward,
    input_jacobian,
    jvp,
    layer_hamiltonian,
    loss,
    loss_and_grad,
    trajectory,
    vjp,
)
from .io import load
from .model import ResNetODE, ZeroGradientWarning
from .training import EarlyStopping, History, fit

__version__: str = build_info()["version"]

__all__ = [
    "EarlyStopping",
    "History",
    "LossGrad",
    "NonFiniteError",
    "ResNetODE",
    "ZeroGradientWarning",
    "__version__",
    "build_info",
    "costates",
    "fit",
    "forward",
    "input_jacobian",
    "jvp",
    "layer_hamiltonian",
    "load",
    "loss",
    "loss_and_grad",
    "trajectory",
    "vjp",
]
