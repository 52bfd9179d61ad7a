"""A griffe extension for the API reference (mkdocs.yml).

mkdocstrings reads resode's sources statically. Two modules assemble some
docstrings when they are imported, which a static reader cannot see:
resode.functional appends the shared description of the network's keywords to
``forward``, ``trajectory`` and ``loss_and_grad``, and resode.sklearn builds the
estimators' class docstrings from shared parts. For the top-level functions and
classes of those modules, this extension takes the docstring of the imported
object when it differs from the static one. The build therefore needs resode
(and scikit-learn) importable, as in the CI virtual environment.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe

RUNTIME_DOC_MODULES = ("resode.functional", "resode.sklearn")


class RuntimeDocstrings(griffe.Extension):
    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        parent = obj.parent
        if parent is None or parent.path not in RUNTIME_DOC_MODULES:
            return
        if not (obj.is_function or obj.is_class):
            return
        runtime = getattr(importlib.import_module(parent.path), obj.name, None)
        doc = inspect.getdoc(runtime) if runtime is not None else None
        if not doc or (obj.docstring is not None and obj.docstring.value == doc):
            return
        lineno = obj.docstring.lineno if obj.docstring is not None else obj.lineno
        obj.docstring = griffe.Docstring(
            doc,
            lineno=lineno,
            parent=obj,
            parser=agent.docstring_parser,
            parser_options=agent.docstring_options,
        )
