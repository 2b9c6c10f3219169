"""What every dlexplain DAG shares: its owner, start date, no catch-up, retries with backoff, and
the params that name a classifier and its explainer."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


def dag_defaults(
    *,
    schedule,
    max_active_runs: int,
    doc_md: str,
    retry_delay: timedelta,
    max_retry_delay: timedelta,
    task_timeout: int,
) -> dict:
    """Keyword arguments of ``@dag``: the given schedule (``none``: only triggered runs) and retry
    bounds, the shared rest.

    Tasks retry twice with exponential backoff from ``retry_delay`` up to ``max_retry_delay``;
    each try may run ``task_timeout`` seconds (``DLEXPLAIN_TASK_TIMEOUT``; the long jobs set
    their own); ``catchup`` is off (past days are explained by backfills).
    """
    return {
        "schedule": None if schedule == "none" else schedule,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": max_active_runs,
        "doc_md": doc_md,
        "default_args": {
            "owner": "dlexplain",
            "retries": 2,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": max_retry_delay,
            "execution_timeout": timedelta(seconds=task_timeout),
        },
    }


def classifier_params(source_role: str, source_model: str) -> dict:
    """``source_model`` (default ``source_model``, the setting ``DLEXPLAIN_SOURCE_MODEL``; its
    description says what the DAG does with it: ``source_role``) and ``explainer_name``, the params
    that pick a classifier and its registered explainer."""
    return {
        "source_model": Param(
            source_model,
            type="string",
            minLength=1,
            description=f"{source_role}: HF folder or MLflow URI "
            "(models:/name@alias, models:/name/N, runs:/...); "
            "'default' = embedded model",
        ),
        "explainer_name": Param(
            None,
            type=["null", "string"],
            minLength=1,
            description="registered name of the explainer (empty: <classifier name>-explainer)",
        ),
    }
