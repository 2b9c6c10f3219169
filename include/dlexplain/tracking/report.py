"""Where to look after a DAG run: the explanation run, its explainer, the output partition."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient

from dlexplain.errors import DataError
from dlexplain.tracking.quality_runs import QUALITY_PREFIX
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_EXPLAINER_RUN_ID,
    TAG_LOGICAL_DATE,
    TAG_OUTPUT,
    TAG_PARTITION,
    TAG_ROWS,
    TAG_ROWS_FAILED,
    artifact_page,
    artifact_url,
    batch_prefix,
    find_run,
    run_page,
)


@dataclass(frozen=True)
class RunReport:
    tracking_uri: str
    explanation_run_url: str
    explainer_run_url: str
    output: str
    rows: str
    rows_failed: str
    #: URLs of the first batch's bar plots (one per plotted class), served by the MLflow server
    bar_plots: tuple[str, ...] = ()
    #: MLflow UI pages of the night's signed importance plots (one per class) and drift report
    quality: tuple[str, ...] = ()


def _url(client: MlflowClient, tracking_uri: str, run_id: str) -> str:
    return run_page(tracking_uri, client.get_run(run_id).info.experiment_id, run_id)


def explanation_report(tracking_uri: str, dag_id: str, logical_date: str) -> RunReport:
    """The explanation run of (``dag_id``, ``logical_date``) and the links a person opens."""
    client = MlflowClient(tracking_uri)
    run_id = find_run(EXPLANATIONS_EXPERIMENT, {TAG_DAG_ID: dag_id, TAG_LOGICAL_DATE: logical_date})
    if run_id is None:
        raise DataError(f"no explanation run for DAG {dag_id!r} on {logical_date!r}")
    tags = client.get_run(run_id).data.tags
    first_batch = batch_prefix(tags[TAG_PARTITION], 0)
    plots = [
        a.path
        for a in client.list_artifacts(run_id, first_batch)
        if a.path.rsplit("/", 1)[-1].startswith("bar_")
    ]
    quality = [
        a.path
        for a in client.list_artifacts(run_id, QUALITY_PREFIX)
        if a.path.endswith((".png", ".html"))
    ]
    return RunReport(
        tracking_uri=tracking_uri,
        explanation_run_url=_url(client, tracking_uri, run_id),
        explainer_run_url=_url(client, tracking_uri, tags[TAG_EXPLAINER_RUN_ID]),
        output=tags[TAG_OUTPUT],
        rows=tags[TAG_ROWS],
        rows_failed=tags[TAG_ROWS_FAILED],
        bar_plots=tuple(artifact_url(run_id, p, tracking_uri) for p in plots),
        quality=tuple(artifact_page(run_id, p, tracking_uri) for p in quality),
    )
