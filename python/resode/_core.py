"""resode's compiled kernels for this CPU (private: use the functions of the package).

The extension module of the ISA level that ``_isa.load`` picks, re-exported here
under one name, so that the rest of the package never asks which level it runs.
"""

from __future__ import annotations

from . import _isa

_module, isa, isa_built = _isa.load()

globals().update(
    {name: value for name, value in vars(_module).items() if not name.startswith("__")}
)
__version__: str = _module.__version__
__doc__ = _module.__doc__
