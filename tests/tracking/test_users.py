"""MLflow with users (basic auth, as in the stack): each client has its own user, EaaS reads
models and writes nothing, and a scoring server loads its explainer with its own credentials."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from dlexplain.explain.config import ExplainerConfig
from dlexplain.serving.checks import ServingError
from dlexplain.serving.process import ProcessBackend
from dlexplain.serving.redeploy import redeploy
from dlexplain.tracking.registry import ExplainerSpec, log_explainer
from dlexplain.tracking.server import start_server, stop_server
from dlexplain.tracking.users import STACK_USERS, credentials
from tests.conftest import REPO

pytestmark = pytest.mark.slow
PASSWORDS = {var: f"{user}-pass-0123456789" for user, var in STACK_USERS.items()}
ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-pass-0123456789"}


def _users_command(url: str) -> subprocess.CompletedProcess:
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME") if k in os.environ}
    return subprocess.run([sys.executable, "-m", "dlexplain.cli", "stack", "mlflow-users"],
                          capture_output=True, text=True, timeout=120,
                          env={**inherited, "MLFLOW_TRACKING_URI": url, **ADMIN, **PASSWORDS})


def test_each_client_its_own_user(tmp_path, tiny_model_dir, monkeypatch):
    # the stack's auth config, with its user store moved under tmp_path
    ini = (REPO / "docker" / "mlflow" / "basic_auth.ini").read_text().replace(
        "sqlite:////opt/dlexplain/state/basic_auth.db", f"sqlite:///{tmp_path / 'auth.db'}")
    (tmp_path / "basic_auth.ini").write_text(ini)
    root = tmp_path / "mlflow"
    server = start_server(root, app_name="basic-auth", env={
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN["MLFLOW_TRACKING_USERNAME"],
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN["MLFLOW_TRACKING_PASSWORD"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-test-secret-of-32-characters-x"})
    backend = ProcessBackend(tmp_path / "eaas" / "deployment.json", tracking_uri=server.url,
                             credentials=credentials("eaas", "wrong-password"))
    try:
        for _ in range(2):  # made, then found and kept in step
            done = _users_command(server.url)
            assert done.returncode == 0, done.stderr[-2000:]
        search = f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1"
        assert requests.get(search, timeout=10).status_code == 401
        eaas = ("eaas", PASSWORDS["MLFLOW_EAAS_PASSWORD"])
        assert requests.get(search, auth=eaas, timeout=10).status_code == 200

        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        for name, value in credentials("airflow", PASSWORDS["MLFLOW_AIRFLOW_PASSWORD"]).items():
            monkeypatch.setenv(name, value)
        ref = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)), "users")

        for name, value in credentials(*eaas).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
            MlflowClient().set_tag(ref.run_id, "written-by", "eaas")  # reads, never writes

        with pytest.raises(ServingError, match="rolled back"):  # a server with a bad password
            redeploy(backend, ref, 120)
        backend.server_env.update(credentials(*eaas))  # its own user: loads and serves
        served = redeploy(backend, ref, 300)
        assert served.run_id == ref.run_id
    finally:
        backend.undeploy()
        stop_server(root)
