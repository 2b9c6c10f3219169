"""MLflow with users (basic auth and workspaces, as in the stack): each client has its own user
and role; spark and eaas read models and create nothing (403); the pipeline's user owns what
the pipeline writes; a version another user registers is never reused, loaded or served; a
scoring server loads its explainer with its own credentials."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from dlexplain.errors import ModelError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.model.lookup import explainer_for
from dlexplain.model.refs import ExplainerRef
from dlexplain.model.registry import ExplainerSpec, log_explainer
from dlexplain.model.source_model import register_classifier
from dlexplain.model.trust import UntrustedExplainer, check_trusted
from dlexplain.serving.checks import ServingError
from dlexplain.serving.process import ProcessBackend
from dlexplain.serving.redeploy import redeploy
from dlexplain.tracking.runs import EXPLAINERS_EXPERIMENT
from dlexplain.tracking.server import start_server, stop_server
from dlexplain.tracking.sources import describe_source
from dlexplain.tracking.users import PIPELINE_ROLE, STACK_USERS, WORKSPACE, _as_user, credentials
from tests.conftest import REPO

pytestmark = pytest.mark.slow
PASSWORDS = {var: f"{user}-pass-0123456789" for user, var in STACK_USERS.items()}
ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-pass-0123456789"}
REFUSED = "PERMISSION_DENIED|Permission denied"
CLASSIFIER = "users-classifier"


def _users_command(url: str) -> subprocess.CompletedProcess:
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME") if k in os.environ}
    return subprocess.run([sys.executable, "-m", "dlexplain.cli", "stack", "mlflow-users"],
                          capture_output=True, text=True, timeout=120,
                          env={**inherited, "MLFLOW_TRACKING_URI": url, **ADMIN, **PASSWORDS})


def _as(user: str) -> dict[str, str]:
    return credentials(user, f"{user}-pass-0123456789")


def test_each_client_its_own_user(tmp_path, tiny_model_dir, monkeypatch):
    # the stack's auth config (workspaces on, as the compose file starts it), its user store
    # moved under tmp_path
    ini = (REPO / "docker" / "mlflow" / "basic_auth.ini").read_text()
    stack_store = "sqlite:////opt/mlflow-auth/basic_auth.db"
    assert stack_store in ini
    (tmp_path / "basic_auth.ini").write_text(
        ini.replace(stack_store, f"sqlite:///{tmp_path / 'auth.db'}"))
    compose = (REPO / "docker-compose.yaml").read_text()
    assert "--enable-workspaces" in compose
    root = tmp_path / "mlflow"
    server = start_server(root, app_name="basic-auth", env={
        "MLFLOW_ENABLE_WORKSPACES": "true",
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN["MLFLOW_TRACKING_USERNAME"],
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN["MLFLOW_TRACKING_PASSWORD"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-test-secret-of-32-characters-x"})
    backend = ProcessBackend(tmp_path / "eaas" / "deployment.json", tracking_uri=server.url,
                             credentials=credentials("eaas", "wrong-password"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("DLEXPLAIN_TRUSTED_EXPERIMENT", EXPLAINERS_EXPERIMENT)
    try:
        for _ in range(2):  # made, then found and kept in step
            done = _users_command(server.url)
            assert done.returncode == 0, done.stderr[-2000:]
        search = f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1"
        assert requests.get(search, timeout=10).status_code == 401
        eaas = ("eaas", PASSWORDS["MLFLOW_EAAS_PASSWORD"])
        assert requests.get(search, auth=eaas, timeout=10).status_code == 200

        # spark and eaas create nothing: the attack of a leaked password on a fresh stack
        for user in ("eaas", "spark"):
            with _as_user(*_as(user).values()):
                with pytest.raises(MlflowException, match=REFUSED):
                    MlflowClient().create_registered_model(f"{user}-model")
                with pytest.raises(MlflowException, match=REFUSED):
                    MlflowClient().create_experiment(f"{user}-experiment")

        with _as_user(*_as("airflow").values()):
            ref = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)))
        with _as_user(*eaas):
            with pytest.raises(MlflowException, match=REFUSED):
                MlflowClient().set_tag(ref.run_id, "written-by", "eaas")  # reads, never writes

        # another user (a member who may create, given EDIT on the explainer by mistake)
        # registers a newer version from a run of its own, with the same files and tags
        admin = AuthServiceClient(server.url)
        with _as_user(*ADMIN.values()):
            admin.create_user("mallory", "mallory-pass-0123456789")
            [pipeline] = [r for r in admin.list_roles(WORKSPACE) if r.name == PIPELINE_ROLE]
            admin.assign_role("mallory", pipeline.id)
            admin.grant_user_permission("mallory", "registered_model", ref.registered_model,
                                        "EDIT")
        with _as_user(*_as("mallory").values()):
            foreign = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)),
                                    "mallory-explainers",
                                    registered_model_name=ref.registered_model)
        assert int(foreign.version) > int(ref.version)
        with _as_user(*ADMIN.values()):  # who reads everything sees where it comes from
            with pytest.raises(UntrustedExplainer, match="'mallory-explainers'.*another user"):
                check_trusted(foreign)
        with _as_user(*_as("airflow").values()):  # the pipeline may not even read it
            assert explainer_for(str(tiny_model_dir)).version == ref.version  # never served
            with pytest.raises(UntrustedExplainer, match="not readable.*another user"):
                check_trusted(foreign)  # never loaded
            again = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)))
            assert again.version == ref.version  # never reused
            register_classifier(tiny_model_dir, CLASSIFIER)
        # a logged model made elsewhere that names the pipeline's run as its source
        with _as_user(*ADMIN.values()):
            client = MlflowClient()
            elsewhere = client.create_experiment("elsewhere")
            model = client.create_logged_model(elsewhere, source_run_id=ref.run_id)
            client.finalize_logged_model(model.model_id, "READY")
            with pytest.raises(UntrustedExplainer, match="was not logged by its run"):
                check_trusted(ExplainerRef.of_uri(model.model_uri))
            admin.grant_user_permission("mallory", "registered_model", CLASSIFIER, "EDIT")
        # the classifier's alias moved to a version another user registered
        with _as_user(*_as("mallory").values()):
            register_classifier(tiny_model_dir, CLASSIFIER, experiment="mallory-explainers")
        with _as_user(*_as("airflow").values()):
            with pytest.raises(ModelError, match="version 2 of users-classifier, which is not the "
                                                 "pipeline's"):
                describe_source(f"models:/{CLASSIFIER}@champion")  # what prepare resolves
            register_classifier(tiny_model_dir, CLASSIFIER)  # the pipeline's version again
            assert describe_source(f"models:/{CLASSIFIER}@champion").registered_version == "1"

            with pytest.raises(ServingError, match="rolled back"):  # a server with a bad password
                redeploy(backend, ref, 120)
            backend.server_env.update(credentials(*eaas))  # its own user: loads and serves
            served = redeploy(backend, ref, 300)
        assert served.run_id == ref.run_id
    finally:
        backend.undeploy()
        stop_server(root)
