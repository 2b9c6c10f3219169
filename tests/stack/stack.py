"""The compose stack of the stack test: its .env, compose calls, health waits, logs, Airflow's API."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from dlexplain.base.processes import free_port
from dlexplain.stack_env import generate

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPOSE_FILES = (REPO / "docker-compose.yaml", REPO / "docker" / "compose.offline.yaml",
                 HERE / "compose.test.yaml")
PROJECT = "dlexplainstack"
PORTS = ("AIRFLOW_PORT", "MLFLOW_PORT", "EAAS_PORT", "SPARK_UI_PORT")
ONE_SHOT = ("preflight", "minio-init", "mlflow-users", "airflow-init", "dlexplain-init")


def artifact_path(url: str) -> str:
    """The artifact path of a tracking server's ``get-artifact`` URL."""
    return parse_qs(urlparse(url).query)["path"][0]


def run_id_of(url: str) -> str:
    """The run id in an MLflow UI run page's URL (``…/runs/<id>[/…][?workspace=…]``)."""
    return url.split("/runs/", 1)[1].split("?")[0].split("/")[0]


def write_env(path: Path, cache_seed: Path) -> dict[str, str]:
    """A ``.env`` from ``.env.example`` (fresh secrets, free ports, the test's project name);
    its values."""
    text = generate((REPO / ".env.example").read_text())
    values = dict(line.split("=", 1) for line in text.splitlines()
                  if "=" in line and not line.startswith("#"))
    values.update({port: str(free_port()) for port in PORTS}, COMPOSE_PROJECT_NAME=PROJECT,
                  DLEXPLAIN_CACHE_SEED=str(cache_seed))
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


@dataclass
class Stack:
    env_file: Path
    env: dict[str, str]
    logs: Path

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> str:
        """``docker-compose`` with the three files and the test's .env; its output."""
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        command = ["docker-compose", "--project-directory", str(REPO), "-p", PROJECT,
                   "--env-file", str(self.env_file), *files, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "COMPOSE_HTTP_TIMEOUT": "300"})
        if check and done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        return done.stdout + done.stderr

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.env[port]}"

    def containers(self, client) -> dict:
        """The stack's containers by service (one each)."""
        found = client.containers.list(all=True, filters={
            "label": f"com.docker.compose.project={PROJECT}"})
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def wait_healthy(self, client, timeout: float = 900) -> dict[str, str]:
        """Until every long-running service is healthy and every one-shot one exited 0."""
        deadline = time.monotonic() + timeout
        while True:
            states = {}
            for service, container in self.containers(client).items():
                container.reload()
                state = container.attrs["State"]
                if service in ONE_SHOT:
                    states[service] = ("done" if state["Status"] == "exited"
                                       and state["ExitCode"] == 0 else state["Status"])
                    if state["Status"] == "exited" and state["ExitCode"] != 0:
                        raise AssertionError(f"{service} exited with {state['ExitCode']}:\n"
                                             f"{container.logs(tail=40).decode(errors='replace')}")
                else:
                    states[service] = state.get("Health", {}).get("Status", state["Status"])
            if states and all(s in ("done", "healthy") for s in states.values()):
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"the stack is not healthy after {timeout:.0f}s: {states}")
            time.sleep(5)

    def save_logs(self, client) -> None:
        """Every service's log (and the EaaS containers') into ``logs``."""
        self.logs.mkdir(parents=True, exist_ok=True)
        for container in client.containers.list(all=True):
            if container.name.startswith((PROJECT, "dlexplain-eaas-")):
                (self.logs / f"{container.name}.log").write_bytes(container.logs())


class AirflowApi:
    """Airflow 3's REST API (``/api/v2``) with a token of the stack's admin."""

    def __init__(self, url: str, user: str, password: str):
        self.url = url
        token = requests.post(f"{url}/auth/token", json={"username": user, "password": password},
                              timeout=30)
        assert token.status_code in (200, 201), token.text
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, f"{self.url}/api/v2{path}", headers=self.headers,
                                    timeout=30, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while requests.get(f"{self.url}/api/v2/dags/{dag_id}", headers=self.headers,
                           timeout=30).status_code != 200:
            assert time.monotonic() < deadline, f"{dag_id} was not parsed in {timeout:.0f}s"
            time.sleep(5)

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Unpause ``dag_id`` and start a run with ``conf``; its run id."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return self.call("POST", f"/dags/{dag_id}/dagRuns",
                         json={"logical_date": None, "conf": conf})["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's final state (``success`` or ``failed``), polled every 5 s."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            assert time.monotonic() < deadline, f"{dag_id} {run_id} still {state}"
            time.sleep(5)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """A task try's log, as text (its JSON: each event with its message)."""
        response = requests.get(
            f"{self.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/"
            f"{try_number}", headers={**self.headers, "Accept": "application/json"},
            params={"full_content": "true"}, timeout=60)
        assert response.ok, f"log of {task_id}: {response.status_code} {response.text[:500]}"
        return json.dumps(response.json()["content"])
