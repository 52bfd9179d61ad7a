"""resode's compiled kernels for this CPU (private: use the functions of the package).

The extension module of the ISA level that ``_isa.load`` picks, re-exported here
under one name, so that the rest of the package never asks which level it runs.
The analysis sweeps (``tangent``, ``layer_hamiltonian``) are compiled into the
lowest built level's module only (CMakeLists.txt): they are called there, with
the options rebuilt as that module's own.
"""

from __future__ import annotations

from . import _isa

_module, isa, isa_built = _isa.load()
_analysis = _module if hasattr(_module, "tangent") else _isa.load_level(isa_built[0])

globals().update(
    {name: value for name, value in vars(_module).items() if not name.startswith("__")}
)
__version__: str = _module.__version__
__doc__ = _module.__doc__


def _analysis_options(options):
    return options if _analysis is _module else _analysis.NetOptions(*options.fields)


def tangent(X, V, b, options, *args, **kwargs):
    return _analysis.tangent(X, V, b, _analysis_options(options), *args, **kwargs)


def layer_hamiltonian(X, P, V, b, options, *args, **kwargs):
    return _analysis.layer_hamiltonian(X, P, V, b, _analysis_options(options), *args, **kwargs)
