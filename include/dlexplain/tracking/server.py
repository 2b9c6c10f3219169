"""Start and stop a local MLflow tracking server by PID (SQLite store, proxied artifacts)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dlexplain.base.processes import ProcessHandle, free_port, terminate_process_group
from dlexplain.errors import DlexplainError

logger = logging.getLogger(__name__)

STATE_FILE = "server.json"


@dataclass(frozen=True)
class TrackingServer:
    """A running server: its URL, process id (with its start time) and state folder."""

    url: str
    pid: int
    root: str
    #: the process's start time (:class:`ProcessHandle`): a reused PID is never taken for it
    started: str | None = None

    @property
    def process(self) -> ProcessHandle:
        return ProcessHandle(self.pid, self.started)


def _healthy(url: str) -> bool:
    import requests

    try:  # /health answers without credentials, with or without the basic-auth app
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def running_server(root: Path) -> TrackingServer | None:
    """The server recorded under ``root`` if it is alive and healthy."""
    state = root / STATE_FILE
    if not state.is_file():
        return None
    server = TrackingServer(**json.loads(state.read_text()))
    return server if server.process.alive() and _healthy(server.url) else None


def start_server(
    root: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 120.0,
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    env: dict[str, str] | None = None,
    app_name: str | None = None,
) -> TrackingServer:
    """Start ``mlflow server`` with state under ``root`` (reused when already running).

    By default the backend store is SQLite and artifacts are files under ``root``; pass a database
    URI (``postgresql+psycopg2://…``) or an object store (``s3://bucket/prefix``, with its
    credentials and endpoint in ``env``) to use those. Artifacts are always proxied by the server.
    ``app_name="basic-auth"`` turns on MLflow's users and permissions (its config file and admin
    in ``env``: ``MLFLOW_AUTH_CONFIG_PATH``, ``MLFLOW_AUTH_ADMIN_USERNAME``/``_PASSWORD``).
    """
    root = root.resolve()
    existing = running_server(root)
    if existing:
        return existing
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_store_uri or f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        artifacts_destination or str(root / "artifacts"),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        *(["--app-name", app_name] if app_name else []),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    with open(root / "server.log", "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=root
        )
    server = TrackingServer(
        url=url, pid=proc.pid, root=str(root), started=ProcessHandle.of(proc.pid).start
    )
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            terminate_process_group(proc.pid)
            tail = (root / "server.log").read_text(errors="replace")[-2000:]
            raise DlexplainError(f"mlflow server on {url} did not become healthy:\n{tail}")
        time.sleep(0.5)
    (root / STATE_FILE).write_text(json.dumps(asdict(server)))
    logger.info("MLflow tracking server %s (pid %d, state %s)", url, proc.pid, root)
    return server


def stop_server(root: Path) -> bool:
    """Stop the server recorded under ``root``; False when none was recorded."""
    state = root / STATE_FILE
    if not state.is_file():
        return False
    server = TrackingServer(**json.loads(state.read_text()))
    server.process.terminate()
    state.unlink()
    logger.info("stopped MLflow tracking server %s (pid %d)", server.url, server.pid)
    return True
