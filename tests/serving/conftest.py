"""EaaS fixtures: explainers of the tiny test model registered under a name of the test's own.

The tiny random BERT keeps scoring-server start and model download short; what is tested is
serving, deploying and rolling back, not the default model (tested elsewhere).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pendulum
import pytest
import requests
from mlflow import MlflowClient

from dlexplain.explain.config import ExplainerConfig
from dlexplain.tracking.filters import where
from dlexplain.tracking.registry import ExplainerSpec, log_explainer


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


def delete_model_artifacts(server_root: str, registered: str, run_id: str) -> Path:
    """Break a logged explainer: delete its classifier's files from the tracking server's store
    (its code stays: it is still trusted, and fails when the server loads it)."""
    source = MlflowClient().get_model_version(registered, version_of(registered, run_id)).source
    location = mlflow.get_logged_model(source.split("/")[-1]).artifact_location
    folder = Path(server_root) / "artifacts" / location.removeprefix("mlflow-artifacts:/")
    shutil.rmtree(folder / "artifacts")
    return folder / "artifacts"


def post_texts(url: str, texts: list, params: dict | None = None) -> requests.Response:
    body = {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}
    return requests.post(f"{url}/invocations", timeout=120,
                         json={**body, "params": params} if params else body)


def run_eaas_dag(registered: str, day: int, classifier):
    """``eaas_redeploy`` serving the explainer of ``classifier`` with ``dag.test()``; the run."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["eaas_redeploy"]
    return dag.test(logical_date=pendulum.datetime(2026, 2, day, tz="UTC"),
                    run_conf={"classifier": str(classifier), "registered_model": registered})
