"""Fail fast on deterministic errors: no retry for what no retry can heal.

A ``DlexplainError`` (a bad param, a missing partition or column, an unknown class, a model that
cannot be read) fails its task at once with its message (``AirflowFailException``: Airflow does
not retry it). Anything else (MLflow or Spark unreachable, a timeout) propagates unchanged and
keeps the task's retries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar, cast

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dlexplain.pipelines import ERROR_PREFIX, EXIT_DETERMINISTIC, DlexplainError

F = TypeVar("F", bound=Callable)


def fail_fast(func: F) -> F:
    """Decorate a task callable (below ``@task``): its ``DlexplainError`` fails the task
    without retries."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DlexplainError as err:
            raise AirflowFailException(f"{type(err).__name__}: {err}") from err

    return cast(F, wrapper)


class BatchExplainOperator(SparkSubmitOperator):
    """``SparkSubmitOperator`` of the batch-explain job: when the job exits with
    ``EXIT_DETERMINISTIC`` (its input or model is wrong) the task fails at once with the job's
    own message; other failures (the cluster away) keep their retries."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as err:
            process = getattr(self._hook, "_submit_sp", None)
            if process is None or process.returncode != EXIT_DETERMINISTIC:
                raise
            said = [line for line in str(err).splitlines() if ERROR_PREFIX in line]
            message = said[-1].strip() if said else str(err)
            raise AirflowFailException(message) from err
