"""Quality in MLflow: a night's importance table and drift report, its baseline, the trend run.

In a night's explanation run (one per DAG and logical date) under ``quality/``::

    importance.parquet          the night's importance table (``dlexplain.quality.importance``)
    texts.parquet               its per-text table, which the drift check compares
    importance.json             its top tokens per class, for people and scripts
    signed_importance_<C>.png   tokens for and against class C
    drift.html / drift.json     the drift report against the baseline (when there is one)

The **trend run** (one per DAG, ``dlexplain.kind=trend``, the night runs nested under it) gets
each night's metrics with ``step`` = days since 1970-01-01 and the logical date as timestamp, so
its metric charts draw one line across nights (x-axis "Step", or "Time (wall)" for dates).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_KIND,
    TAG_LOGICAL_DATE,
    artifact_page,
    experiment_id,
    find_or_create_run,
)

logger = logging.getLogger(__name__)

KIND_TREND = "trend"
QUALITY_PREFIX = "quality"
IMPORTANCE_FILE = "importance.parquet"
TEXTS_FILE = "texts.parquet"
DRIFT_REPORT = "drift.html"
#: set on a night run once its importance table is logged (the baseline searches for it)
TAG_IMPORTANCE = "dlexplain.importance"
#: set on a night run once its per-text table is logged (nights before it have none)
TAG_TEXTS = "dlexplain.texts"
#: MLflow's own tag that nests a run under another in the UI
TAG_PARENT = "mlflow.parentRunId"
#: Night runs a baseline search looks at (newest first).
SEARCH_LIMIT = 1000


def log_importance(
    run_id: str, table: pd.DataFrame, plots: dict[str, bytes], texts: pd.DataFrame, top: int = 50
) -> str:
    """Log the night's importance table, its per-text table, its top tokens as JSON and the
    signed plots (PNG bytes by class) into ``run_id``; returns the table's artifact path."""
    from dlexplain.quality.importance import classes, for_class

    with tempfile.TemporaryDirectory(prefix="dlexplain-quality-") as tmp:
        folder = Path(tmp)
        table.to_parquet(folder / IMPORTANCE_FILE, index=False)
        texts.to_parquet(folder / TEXTS_FILE, index=False)
        tops = {
            name: for_class(table, name).head(top).to_dict(orient="records")
            for name in classes(table)
        }
        (folder / "importance.json").write_text(json.dumps(tops, indent=1))
        for name, png in plots.items():
            (folder / f"signed_importance_{name}.png").write_bytes(png)
        MlflowClient().log_artifacts(run_id, tmp, QUALITY_PREFIX)
    path = f"{QUALITY_PREFIX}/{IMPORTANCE_FILE}"
    client = MlflowClient()
    client.set_tag(run_id, TAG_TEXTS, f"{QUALITY_PREFIX}/{TEXTS_FILE}")
    client.set_tag(run_id, TAG_IMPORTANCE, path)
    return path


def texts_of(run_id: str) -> pd.DataFrame:
    """The per-text table logged into ``run_id``."""
    with tempfile.TemporaryDirectory(prefix="dlexplain-baseline-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=f"{QUALITY_PREFIX}/{TEXTS_FILE}", dst_path=tmp
        )
        return pd.read_parquet(local)


def night_runs(dag_id: str) -> list[tuple[str, str, dict[str, str]]]:
    """``(logical date, run_id, tags)`` of every night of ``dag_id`` with an importance table,
    newest first."""
    runs = MlflowClient().search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)],
        filter_string=where(
            {tag(TAG_DAG_ID): dag_id, tag(TAG_IMPORTANCE): f"{QUALITY_PREFIX}/{IMPORTANCE_FILE}"}
        ),
        max_results=SEARCH_LIMIT,
    )
    found = [
        (r.data.tags[TAG_LOGICAL_DATE], r.info.run_id, dict(r.data.tags))
        for r in runs
        if TAG_LOGICAL_DATE in r.data.tags
    ]
    return sorted(found, key=lambda night: night[0], reverse=True)


def log_drift(run_id: str, report_html: str, drift_json: dict) -> str:
    """Log the drift report (HTML) and its figures (JSON) into ``run_id``; the URL of the
    report's page in the MLflow UI."""
    with tempfile.TemporaryDirectory(prefix="dlexplain-drift-") as tmp:
        (Path(tmp) / DRIFT_REPORT).write_text(report_html, encoding="utf-8")
        (Path(tmp) / "drift.json").write_text(json.dumps(drift_json, indent=1))
        MlflowClient().log_artifacts(run_id, tmp, QUALITY_PREFIX)
    return artifact_page(run_id, f"{QUALITY_PREFIX}/{DRIFT_REPORT}")


def trend_run(dag_id: str) -> str:
    """The trend run of ``dag_id`` (created on first use)."""
    return find_or_create_run(
        EXPLANATIONS_EXPERIMENT,
        key={TAG_KIND: KIND_TREND, TAG_DAG_ID: dag_id},
        run_name=f"{dag_id}-trend",
    )


def night_step(night: str) -> tuple[int, int]:
    """``(step, timestamp in ms)`` of a logical date in the trend run."""
    day = date.fromisoformat(night)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (day - date(1970, 1, 1)).days, int(midnight.timestamp() * 1000)


def log_night_metrics(
    dag_id: str, night: str, night_run_id: str, metrics: dict[str, float]
) -> None:
    """``metrics`` into the night run (one point) and into the trend run at the night's step;
    the night run is nested under the trend run."""
    from mlflow.entities import Metric

    client = MlflowClient()
    trend = trend_run(dag_id)
    client.set_tag(night_run_id, TAG_PARENT, trend)
    step, timestamp = night_step(night)
    for run_id in (night_run_id, trend):
        client.log_batch(
            run_id,
            metrics=[Metric(key, float(value), timestamp, step) for key, value in metrics.items()],
        )
    logger.info("night %s: %s", night, {k: round(float(v), 4) for k, v in metrics.items()})


def metric_name(text: str) -> str:
    """``text`` with the characters MLflow metric names refuse replaced by ``_``."""

    return re.sub(r"[^\w\-. /]", "_", text)
