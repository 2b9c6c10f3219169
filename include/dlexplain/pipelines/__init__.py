"""The pipelines: one module per DAG, holding its steps and the records its tasks hand each other.

``explain_reviews`` (the nightly explanation of a partition), ``train_fast_explainer``,
``eaas_redeploy`` and ``drift_alert``. The DAG files and plugins import only this package and
``dlexplain.config`` (an import-linter contract says so); the steps are plain functions,
testable without Airflow. What the plugins need from the rest of the package is named here.
"""

from __future__ import annotations

from dlexplain.errors import ConfigError, DlexplainError
from dlexplain.spark import ERROR_PREFIX, EXIT_DETERMINISTIC

__all__ = ["ConfigError", "DlexplainError", "ERROR_PREFIX", "EXIT_DETERMINISTIC"]
