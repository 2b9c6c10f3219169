"""dlexplain: SHAP explanations of transformer text classifiers, tracked in MLflow.

Heavy dependencies (torch, shap) load only when a name that needs them is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "dlexplain.config",
    "TextClassifier": "dlexplain.classifier",
    "Explainer": "dlexplain.engine",
    "ExplainerConfig": "dlexplain.engine",
    "TextExplanation": "dlexplain.schema",
    "DlexplainError": "dlexplain.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlexplain' has no attribute {name!r}")
