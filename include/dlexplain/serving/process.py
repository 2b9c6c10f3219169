"""The ``process`` backend: ``dlexplain eaas serve`` as a local process, tracked by PID and start
time (a reused PID is never signalled)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dlexplain.base.processes import ProcessHandle, free_port
from dlexplain.model.refs import ExplainerRef
from dlexplain.serving.backend import DeployBackend
from dlexplain.serving.deployment import Deployment

#: Variables of this process a scoring server inherits: how to run Python and the package's
#: non-secret settings. Never Airflow's (its Fernet key, connections), cloud or MLflow
#: credentials: the server gets its own MLflow user from ``server_env`` alone.
PASSED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "TMPDIR",
        "XDG_CACHE_HOME",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "SPARK_LOCAL_IP",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "CUDA_VISIBLE_DEVICES",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "MLFLOW_TRACKING_INSECURE_TLS",
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    }
)
#: The starting process's own MLflow user, passed on when no server user is set
#: (``DLEXPLAIN_EAAS_MLFLOW_USER`` empty: "the starting process's own").
OWN_USER = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
PASSED_PREFIXES = ("DLEXPLAIN_", "HF_", "TRANSFORMERS_")
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "USER", "CREDENTIAL")


def passed_environment(environ) -> dict[str, str]:
    """The part of ``environ`` a scoring server may see (:data:`PASSED_NAMES`, and the
    :data:`PASSED_PREFIXES` variables whose names name no secret)."""
    return {
        name: value
        for name, value in environ.items()
        if name in PASSED_NAMES
        or (name.startswith(PASSED_PREFIXES) and not any(w in name for w in SECRET_WORDS))
    }


class ProcessBackend(DeployBackend):
    """Scoring servers as process groups of this machine; logs beside the state file."""

    name = "process"

    def __init__(self, state_path: Path, **kwargs):
        super().__init__(state_path, **kwargs)
        self.log_dir = Path(state_path).parent / "logs"
        self._children: dict[int, subprocess.Popen] = {}

    def _log(self, deployment: Deployment) -> Path:
        pid = ProcessHandle.parse(deployment.handle).pid
        return self.log_dir / f"{deployment.run_id}-{pid}.log"

    def start(self, target: ExplainerRef) -> Deployment:
        port = free_port(self.url_host)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        own_user = (
            {}
            if "MLFLOW_TRACKING_USERNAME" in self.server_env
            else {name: os.environ[name] for name in OWN_USER if name in os.environ}
        )
        env = {**passed_environment(os.environ), **own_user, **self.server_env}
        log = self.log_dir / f"{target.run_id}-{port}.start.log"
        with open(log, "ab") as handle:
            proc = subprocess.Popen(
                [sys.executable, *self.serve_command(target, self.host, port)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._children[proc.pid] = proc
        deployment = self.deployment(target, port, str(ProcessHandle.of(proc.pid)))
        log.rename(self._log(deployment))
        return deployment

    def problem(self, deployment: Deployment) -> str | None:
        handle = ProcessHandle.parse(deployment.handle)
        child = self._children.get(handle.pid)
        running = child.poll() is None if child is not None else handle.alive()
        if running:
            return None
        log = self._log(deployment)
        tail = log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"
        return f"process {handle} is gone; last log lines:\n{tail}"

    def stop(self, deployment: Deployment) -> None:
        handle = ProcessHandle.parse(deployment.handle)
        handle.terminate()
        child = self._children.pop(handle.pid, None)
        if child is not None:
            child.poll()  # reap it
