"""dlexplain: SHAP explanations of transformer text classifiers, tracked in MLflow.

The package face: the names below load their module (and torch, shap) only when first used.
Layout: ``config`` (settings), ``errors``, ``cli``, ``steps`` (the DAG steps) at the root, and a
folder per concept: ``explain``, ``quality``, ``tracking``, ``spark``, ``serving``, ``defaults``,
``base``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.5.0.dev0"

_EXPORTS = {
    "Settings": "dlexplain.config",
    "TextClassifier": "dlexplain.explain.classifier",
    "Explainer": "dlexplain.explain.engine",
    "ExplainerConfig": "dlexplain.explain.config",
    "TextExplanation": "dlexplain.explain.row",
    "DlexplainError": "dlexplain.errors",
    "to_shap": "dlexplain.explain.shap_form",
}
__all__ = sorted(_EXPORTS)

#: Modules of the 0.1 layout that code logged with an explainer still imports, and where they
#: live now. An explainer logged by 0.1 runs ``from dlexplain.mlflow_explainer import …`` from
#: its models-from-code file; in a process that already imported this package it gets this one.
LEGACY_MODULES = {
    "dlexplain.mlflow_explainer": "dlexplain.model.pyfunc",
    "dlexplain.tracking.pyfunc": "dlexplain.model.pyfunc",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlexplain' has no attribute {name!r}")


class _LegacyModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a ``LEGACY_MODULES`` name as the module that replaced it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in LEGACY_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(LEGACY_MODULES[spec.name])

    def exec_module(self, module):
        """Nothing to run: the module is the current one, already executed."""


if not any(isinstance(finder, _LegacyModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_LegacyModuleFinder())
