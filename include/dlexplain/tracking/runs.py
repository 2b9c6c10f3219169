"""Experiments and the runs dlexplain keeps in them, with the tags that find them again."""

from __future__ import annotations

from mlflow import MlflowClient

from dlexplain.tracking.filters import tag, where

#: Experiment of explainer runs (one per source model and settings) and registered classifiers.
EXPLAINERS_EXPERIMENT = "dlexplain-explainers"
#: Experiment of explanation runs (one per DAG and logical date).
EXPLANATIONS_EXPERIMENT = "dlexplain-explanations"

TAG_KIND = "dlexplain.kind"
KIND_EXPLAINER = "explainer"
KIND_FAST = "fast_explainer"
KIND_CLASSIFIER = "classifier"
KIND_EXPLANATIONS = "explanations"

#: tags of an explanation run (the ``explain_reviews`` pipeline's ``open_explanation_run``)
TAG_DAG_ID = "dlexplain.dag_id"
TAG_LOGICAL_DATE = "dlexplain.logical_date"
TAG_EXPLAINER_RUN_ID = "dlexplain.explainer_run_id"
#: the exact explainer behind a run: itself, or the one a fast explainer was trained from
TAG_EXACT_RUN_ID = "dlexplain.exact_run_id"
#: how a night was explained: exact, fast, fast+verify or fast+audit
TAG_METHOD = "dlexplain.method"
#: the unit of a night's values: only nights of the same unit share a drift baseline
TAG_GRANULARITY = "dlexplain.granularity"
TAG_PARTITION = "dlexplain.partition"
TAG_INPUT = "dlexplain.input"
TAG_OUTPUT = "dlexplain.output"
TAG_ROWS = "dlexplain.rows"
TAG_ROWS_FAILED = "dlexplain.rows_failed"
#: the classifier a run explains (its weights' ``SourceModel.key``): on explainer runs and on the
#: nights they explained; a night's drift baseline pools only nights of the same classifier
TAG_SOURCE_KEY = "dlexplain.source_key"


def partition_prefix(partition: str) -> str:
    """Where a partition's batches go in its explanation run."""
    return f"explanations/{partition}"


def batch_prefix(partition: str, batch: int) -> str:
    """Where one batch's artifacts go in the explanation run."""
    return f"{partition_prefix(partition)}/batch-{batch:04d}"


def artifact_url(run_id: str, path: str, tracking_uri: str | None = None) -> str:
    """The tracking server's download URL of one artifact."""
    from urllib.parse import urlencode

    import mlflow

    base = tracking_uri or mlflow.get_tracking_uri()
    return f"{base}/get-artifact?{urlencode({'path': path, 'run_uuid': run_id})}"


def artifact_page(run_id: str, path: str, tracking_uri: str | None = None) -> str:
    """The MLflow UI's page of one artifact (HTML and images render there; the server's
    ``get-artifact`` URL always downloads)."""
    import mlflow

    base = tracking_uri or mlflow.get_tracking_uri()
    experiment = MlflowClient(base).get_run(run_id).info.experiment_id
    return run_page(base, experiment, run_id, f"/artifacts/{path}")


def run_page(base: str, experiment_id: str, run_id: str, tail: str = "") -> str:
    """The MLflow UI's page of a run (``tail``: a sub-page such as ``/artifacts/<path>``); on a
    server with workspaces (the stack) in the default one, which the UI asks for otherwise."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.server_info import (
        SERVER_INFO_WORKSPACES_ENABLED,
        ServerInfoRequestError,
        fetch_server_info,
    )
    from mlflow.utils.workspace_utils import DEFAULT_WORKSPACE_NAME

    url = f"{base}/#/experiments/{experiment_id}/runs/{run_id}{tail}"
    try:
        info = fetch_server_info(get_default_host_creds(base))
    except (OSError, ServerInfoRequestError, MlflowException):
        return url  # a link, not a reason to fail: the server is asked again on the next one
    if info.status_code == 200 and (info.data or {}).get(SERVER_INFO_WORKSPACES_ENABLED):
        return f"{url}?workspace={DEFAULT_WORKSPACE_NAME}"
    return url


def experiment_id(name: str) -> str:
    """The id of experiment ``name``, created when missing."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


def find_run(experiment: str, tags: dict[str, str], *, finished: bool = False) -> str | None:
    """run_id of the oldest run of ``experiment`` carrying every tag of ``tags``, if any."""
    conditions = {tag(key): value for key, value in tags.items()}
    if finished:
        conditions["attributes.status"] = "FINISHED"
    runs = MlflowClient().search_runs(
        [experiment_id(experiment)],
        filter_string=where(conditions),
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def find_or_create_run(
    experiment: str,
    key: dict[str, str],
    tags: dict[str, str] | None = None,
    run_name: str | None = None,
) -> str:
    """The run of ``experiment`` tagged with every ``key`` tag, created (with ``tags``) if none.

    Used for explanation runs: one per partition, reused when the same work is done again.
    """
    found = find_run(experiment, key)
    if found:
        return found
    client = MlflowClient()
    run = client.create_run(
        experiment_id(experiment), tags={**key, **(tags or {})}, run_name=run_name
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def clear_artifacts(run_id: str, path: str) -> None:
    """Delete the artifacts under ``path`` of run ``run_id`` (nothing there: nothing to do).

    A reused explanation run gets a partition's batches anew: batches of an earlier attempt
    (another model's plots, more batches than now) must not stay beside them.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = MlflowClient()
    if not client.list_artifacts(run_id, path):
        return
    get_artifact_repository(client.get_run(run_id).info.artifact_uri).delete_artifacts(path)


def explanation_run(dag_id: str, ds: str, partition: str) -> str:
    """The one explanation run of (DAG, logical date), without the artifacts an earlier attempt
    logged for ``partition``."""
    run_id = find_or_create_run(
        EXPLANATIONS_EXPERIMENT,
        key={TAG_KIND: KIND_EXPLANATIONS, TAG_DAG_ID: dag_id, TAG_LOGICAL_DATE: ds},
        run_name=f"{dag_id}-{partition}",
    )
    clear_artifacts(run_id, partition_prefix(partition))
    return run_id


def run_tags(run_id: str) -> dict[str, str]:
    """The tags of a run."""
    return dict(MlflowClient().get_run(run_id).data.tags)


def record(run_id: str, tags: dict[str, str], metrics: dict[str, float]) -> None:
    """Set ``tags`` on run ``run_id`` and log one point of each of ``metrics``."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    for key, number in metrics.items():
        client.log_metric(run_id, key, number)
