"""The type stubs of the compiled module (python/resode/_core.pyi) against the module.

mypy's stubtest (run by .ci/run) finds stub entries that the module lacks, but
pybind11 functions expose no signature it can read, and it takes the functions
that _core.py re-exports from the level module as imports. This test covers the
other direction: every bound function and class has a stub, with the parameter
names, in order, that pybind11 writes in the first line of its docstring.
"""

from __future__ import annotations

import ast
import pathlib
import re

import resode._core as core


def _stub_entries():
    tree = ast.parse(pathlib.Path(core.__file__).with_suffix(".pyi").read_text())
    functions = {
        node.name: [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    return functions, classes


def _bound():
    """name -> object of both loaded kernel modules (the analysis sweeps live in the
    lowest level's only)."""
    out = {}
    for module in (core._module, core._analysis):
        for name, obj in vars(module).items():
            if not name.startswith("_"):
                out[name] = obj
    return out


def test_every_bound_function_and_class_has_a_stub_with_its_parameters():
    functions, classes = _stub_entries()
    checked = 0
    for name, obj in _bound().items():
        if isinstance(obj, type):
            assert name in classes, f"class {name} has no stub"
            continue
        if not callable(obj):
            continue
        assert name in functions, f"function {name} has no stub"
        first = obj.__doc__.splitlines()[0]  # pybind11: "name(a: type, ...) -> type"
        params = re.findall(r"(\w+): ", first[first.index("(") + 1 : first.rindex(")")])
        assert functions[name] == params, f"{name}: stub {functions[name]}, module {params}"
        checked += 1
    assert checked >= 8  # forward, cost, vjp, tangent, layer_hamiltonian, activation, ...
