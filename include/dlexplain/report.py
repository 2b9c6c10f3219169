"""Where to look after a DAG run: the explanation run, its explainer, the output partition."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient

from dlexplain.errors import DataError
from dlexplain.pipeline import EXPLANATIONS_EXPERIMENT
from dlexplain.registry import experiment_id


@dataclass(frozen=True)
class RunReport:
    tracking_uri: str
    explanation_run_url: str
    explainer_run_url: str
    output: str
    rows: str
    rows_failed: str


def _url(client: MlflowClient, tracking_uri: str, run_id: str) -> str:
    run = client.get_run(run_id)
    return f"{tracking_uri}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


def explanation_report(tracking_uri: str, dag_id: str, logical_date: str) -> RunReport:
    """The explanation run of (``dag_id``, ``logical_date``) and the links a person opens."""
    client = MlflowClient(tracking_uri)
    runs = client.search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)],
        filter_string=f"tags.`dlexplain.dag_id` = '{dag_id}' and "
                      f"tags.`dlexplain.logical_date` = '{logical_date}'")
    if not runs:
        raise DataError(f"no explanation run for DAG {dag_id!r} on {logical_date!r}")
    tags = runs[0].data.tags
    return RunReport(
        tracking_uri=tracking_uri,
        explanation_run_url=_url(client, tracking_uri, runs[0].info.run_id),
        explainer_run_url=_url(client, tracking_uri, tags["dlexplain.explainer_run_id"]),
        output=tags["dlexplain.output"], rows=tags["dlexplain.rows"],
        rows_failed=tags["dlexplain.rows_failed"],
    )
