"""EaaS fixtures: explainers of the tiny test model registered under a name of the test's own.

The tiny random BERT keeps scoring-server start and model download short; what is tested is
serving, deploying and rolling back, not the default model (tested elsewhere).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pendulum
import pytest
import requests
from mlflow import MlflowClient

from dlexplain.explain.config import ExplainerConfig
from dlexplain.model.registry import ExplainerSpec, log_explainer
from dlexplain.tracking.filters import where


@pytest.fixture()
def registered(unique) -> str:
    return f"eaas-explainer-{unique}"


@pytest.fixture()
def log_version(registered, tiny_model_dir, tracking_uri, unique):
    """Log an explainer of the tiny model with ``max_evals`` as a new registered version."""

    def log(max_evals: int) -> str:
        spec = ExplainerSpec(ExplainerConfig(max_evals=max_evals))
        return log_explainer(tiny_model_dir, spec, f"eaas-{unique}",
                             registered_model_name=registered).run_id

    return log


def version_of(registered: str, run_id: str) -> str:
    """The registered version logged by explainer run ``run_id``."""
    (found,) = MlflowClient().search_model_versions(
        where({"name": registered, "run_id": run_id}))
    return str(found.version)


def break_weights(registered: str, version: str) -> None:
    """Break a logged explainer so that it stays trusted and fails when a server loads it: its
    classifier's ``model.safetensors`` keeps its header (the allow-list's format check passes)
    and loses the tensors' bytes, written back through the model's own artifact repository."""
    import tempfile

    import yaml
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    source = MlflowClient().get_model_version(registered, version).source
    repository = get_artifact_repository(
        mlflow.get_logged_model(source.split("/")[-1]).artifact_location)
    with tempfile.TemporaryDirectory() as tmp:
        mlmodel = yaml.safe_load(Path(repository.download_artifacts("MLmodel", tmp)).read_text())
        folder = mlmodel["flavors"]["python_function"]["artifacts"]["classifier"]["path"]
        weights = Path(repository.download_artifacts(f"{folder}/model.safetensors", tmp))
        data = weights.read_bytes()
        weights.write_bytes(data[:8 + int.from_bytes(data[:8], "little")])
        repository.log_artifact(str(weights), folder)


def post_texts(url: str, texts: list, params: dict | None = None) -> requests.Response:
    body = {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}
    return requests.post(f"{url}/invocations", timeout=120,
                         json={**body, "params": params} if params else body)


def run_eaas_dag(registered: str, day: int, classifier, alias: str | None = None):
    """``eaas_redeploy`` serving the explainer of ``classifier`` with ``dag.test()`` (its
    ``alias`` param when given); the run."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["eaas_redeploy"]
    return dag.test(logical_date=pendulum.datetime(2026, 2, day, tz="UTC"),
                    run_conf={"classifier": str(classifier), "registered_model": registered,
                              **({"alias": alias} if alias else {})})
