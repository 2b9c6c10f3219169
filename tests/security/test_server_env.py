"""Issue 25, item 5 (the process backend's part): a scoring server holds only what it needs. What
a compromised server would read, its own environment, is read here from /proc: no Fernet key, no
other service's MLflow password, no cloud credentials; its own MLflow user only."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlexplain.base.processes import ProcessHandle
from dlexplain.model.refs import ExplainerRef
from dlexplain.serving.process import ProcessBackend

SECRETS = {
    "AIRFLOW__CORE__FERNET_KEY": "fernet-7f3a",
    "AIRFLOW_CONN_SPARK_DEFAULT": "spark://user:conn-secret@host",
    "MLFLOW_TRACKING_PASSWORD": "airflow-mlflow-secret",
    "DLEXPLAIN_SPARK_MLFLOW_PASSWORD": "spark-mlflow-secret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


@pytest.mark.parametrize("own", [
    {"MLFLOW_TRACKING_USERNAME": "eaas", "MLFLOW_TRACKING_PASSWORD": "eaas-secret"},
    {},  # no server user set: the starting process's own MLflow user (the documented fallback)
])
def test_a_scoring_server_sees_no_secret_but_its_mlflow_user(own, monkeypatch, tmp_path):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "airflow")
    monkeypatch.setenv("DLEXPLAIN_DEVICE", "cpu")
    backend = ProcessBackend(tmp_path / "deployment.json", tracking_uri="http://127.0.0.1:9",
                             credentials=own)
    target = ExplainerRef(run_id="0" * 32, model_uri="models:/nothing/1")
    deployment = backend.start(target)
    try:
        seen = _environ(ProcessHandle.parse(deployment.handle).pid)
        # a process that has already exited shows no environment: say why it exited
        assert seen, backend.problem(deployment) or "the server shows no environment"
    finally:
        backend.stop(deployment)
    user = own or {"MLFLOW_TRACKING_USERNAME": "airflow",
                   "MLFLOW_TRACKING_PASSWORD": SECRETS["MLFLOW_TRACKING_PASSWORD"]}
    leaked = {name for name, value in SECRETS.items() if name not in user
              and (name in seen or any(value in v for v in seen.values()))}
    assert not leaked, leaked
    assert {name: seen.get(name) for name in user} == user
    assert seen["DLEXPLAIN_DEVICE"] == "cpu" and seen["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == \
        "false"
