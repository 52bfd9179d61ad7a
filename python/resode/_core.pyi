"""Type stubs of the private compiled module (see resode.functional for the public API)."""

from typing import Any

import numpy as np

__version__: str
# the ISA level of the loaded kernel module, and the levels installed (resode._isa)
isa: str
isa_built: tuple[str, ...]

class NetOptions:
    def __init__(
        self,
        T: float,
        form: str,
        activation: str,
        scheme: str = "euler",
        gamma: float = 0.0,
        project: bool = False,
        n_layers: int = 0,
    ) -> None: ...
    @property
    def fields(self) -> tuple[float, str, str, str, float, bool, int]: ...

def forward(
    X: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    options: NetOptions,
    threads: int | None,
    trajectory: bool,
) -> np.ndarray: ...
def cost(
    X: np.ndarray,
    Y: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    W: np.ndarray | None,
    mu: np.ndarray | None,
    sample_weight: np.ndarray | None,
    options: NetOptions,
    head: str,
    w1: float,
    w2: float,
    w_head: float,
    grad: bool,
    input_grad: bool,
    costates: bool = False,
    threads: int | None = None,
    checkpoint_every: int = 0,
    reversible: bool = False,
) -> tuple[
    float,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
]: ...
def vjp(
    X: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    options: NetOptions,
    cotangent: np.ndarray,
    trajectory: bool,
    threads: int | None = None,
    checkpoint_every: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def tangent(
    X: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    options: NetOptions,
    dX: np.ndarray | None,
    dV: np.ndarray | None,
    db: np.ndarray | None,
    per_layer: bool,
    threads: int | None,
) -> tuple[np.ndarray, np.ndarray]: ...
def layer_hamiltonian(
    X: np.ndarray,
    P: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    options: NetOptions,
    threads: int | None,
) -> tuple[float, np.ndarray, np.ndarray]: ...

# s(x) or its derivative elementwise, float32 or float64, any shape
def activation(x: np.ndarray, name: str, derivative: bool = False) -> np.ndarray: ...
def opening_forward(
    X: np.ndarray, K0: np.ndarray, c0: np.ndarray, activation: str
) -> tuple[np.ndarray, np.ndarray]: ...
def opening_backward(
    X: np.ndarray,
    K0: np.ndarray,
    c0: np.ndarray,
    z: np.ndarray,
    p1: np.ndarray,
    activation: str,
    weight: float,
    input_grad: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]: ...
def adam_step(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    t: int,
) -> None: ...
def cached_arrays(form: str, scheme: str) -> int: ...
def block_size(d: int, dtype: np.dtype[Any], stored: int = 0) -> int: ...
def build_info() -> dict[str, Any]: ...
