"""Exceptions raised by resode."""

from __future__ import annotations


class NonFiniteError(FloatingPointError):
    """A sweep produced inf or NaN.

    Attributes
    ----------
    layer : int
        0-based index of the layer whose step first produced a non-finite state
        (``L`` when only the head's loss overflowed, ``-1`` when only the
        backward sweep did).
    samples : int
        Number of samples whose final state is non-finite (0 when the states
        stayed finite).
    stage : str
        ``"forward"``, ``"loss"`` or ``"backward"``.
    """

    def __init__(self, message: str, layer: int = -1, samples: int = 0, stage: str = "forward"):
        super().__init__(message)
        self.layer = layer
        self.samples = samples
        self.stage = stage

    def __reduce__(self):  # keep the attributes when pickled (multiprocessing, Dask)
        return (type(self), (str(self), self.layer, self.samples, self.stage))
