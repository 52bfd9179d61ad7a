"""Importing resode: without an optional framework installed, resode imports and
works, and the module that needs it says which extra to install; under
``python -OO`` (no docstrings) every module imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys
sys.modules[{blocked!r}] = None  # as if it were not installed
import numpy as np
import resode
resode.forward(np.ones((2, 2)), np.zeros((1, 2, 2)), np.zeros((1, 2)))
try:
    import resode.{module}
except ImportError as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("torch", "torch", "resode[torch]"), ("jax", "jax", "resode[jax]"),
     ("distributed", "dask", "resode[distributed]")],
)  # fmt: skip
def test_missing_framework_names_the_extra(module, blocked, extra):
    code = CODE.format(blocked=blocked, module=module)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert extra in proc.stdout and "pip install" in proc.stdout


def test_every_module_imports_without_docstrings():
    modules = "resode, resode.analysis, resode.msa, resode.depth, resode.plot, resode.sklearn"
    extras = "resode.torch, resode.jax, resode.distributed"
    code = (
        f"import {modules}\ntry:\n    import {extras}\nexcept ImportError:\n    pass\nprint('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-OO", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
