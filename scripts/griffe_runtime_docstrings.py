"""A griffe extension for the API reference (mkdocs.yml).

mkdocstrings reads resode's sources statically. Two modules assemble some
docstrings when they are imported, which a static reader cannot see:
resode.functional appends the shared description of the network's keywords to
``forward``, ``trajectory`` and ``loss_and_grad``, and resode.sklearn builds the
estimators' class docstrings from shared parts. For the top-level functions and
classes of those modules, this extension takes the docstring of the imported
object when it differs from the static one. The build therefore needs resode
(and scikit-learn) importable, as in the CI virtual environment.

The docstrings also use Sphinx roles (``:func:`fit```), which Markdown would
show literally; they are rendered as inline code.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import griffe

RUNTIME_DOC_MODULES = ("resode.functional", "resode.sklearn")
SPHINX_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|exc|obj|term):`~?([^`]+)`")


class RuntimeDocstrings(griffe.Extension):
    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        parent = obj.parent
        if (
            parent is not None
            and parent.path in RUNTIME_DOC_MODULES
            and (obj.is_function or obj.is_class)
        ):
            runtime = getattr(importlib.import_module(parent.path), obj.name, None)
            doc = inspect.getdoc(runtime) if runtime is not None else None
            if doc and (obj.docstring is None or obj.docstring.value != doc):
                lineno = obj.docstring.lineno if obj.docstring is not None else obj.lineno
                obj.docstring = griffe.Docstring(
                    doc,
                    lineno=lineno,
                    parent=obj,
                    parser=agent.docstring_parser,
                    parser_options=agent.docstring_options,
                )
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = SPHINX_ROLE.sub(r"`\1`", obj.docstring.value)
