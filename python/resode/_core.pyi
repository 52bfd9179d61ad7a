"""Type stubs of the private compiled module (see resode.functional for the public API)."""

from typing import Any

import numpy as np

__version__: str
# the ISA level of the loaded kernel module, and the levels installed (resode._isa)
isa: str
isa_built: tuple[str, ...]

def forward(
    X: np.ndarray,
    V: np.ndarray,
    b: np.ndarray,
    T: float,
    form: str,
    activation: str,
    gamma: float,
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
    T: float,
    form: str,
    activation: str,
    head: str,
    w1: float,
    w2: float,
    w_head: float,
    gamma: float,
    grad: bool,
    input_grad: bool,
    threads: int | None,
    checkpoint_every: int = 0,
) -> tuple[
    float,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
]: ...
def activation(x: np.ndarray, name: str, derivative: bool = False) -> np.ndarray: ...
def block_size(d: int, dtype: np.dtype[Any]) -> int: ...
def build_info() -> dict[str, Any]: ...
