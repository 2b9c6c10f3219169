"""Applications run by ``spark-submit``."""

from __future__ import annotations

from importlib.util import find_spec


def application_path(name: str = "batch_explain") -> str:
    """File path of a job module, for SparkSubmitOperator's ``application`` (nothing imported)."""
    spec = find_spec(f"dlexplain.jobs.{name}")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"dlexplain.jobs.{name}")
    return spec.origin
