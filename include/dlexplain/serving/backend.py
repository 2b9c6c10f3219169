"""One interface for the places a scoring server runs (``process``, ``docker``)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from dlexplain.model.refs import ExplainerRef
from dlexplain.model.request_limits import RequestLimits
from dlexplain.model.trust import NO_PICKLE
from dlexplain.serving.deployment import Deployment, DeploymentState

#: How this process's MLflow client transfers artifacts, which its scoring servers share: in the
#: stack they download through MLflow's proxy (their network reaches no object store), and
#: explainers come only from the trusted experiment.
SHARED_SETTINGS = (
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "DLEXPLAIN_TRUSTED_EXPERIMENT",
)


class DeployBackend(ABC):
    """Starts and stops scoring servers of explainer runs; ``state`` records the active one."""

    name: str

    def __init__(
        self,
        state_path: Path,
        *,
        tracking_uri: str,
        host: str = "127.0.0.1",
        limits: RequestLimits = RequestLimits(),
        credentials: dict | None = None,
    ):
        self.state = DeploymentState(state_path)
        self.tracking_uri = tracking_uri
        self.host = host
        #: environment of every scoring server: where MLflow is (and its own MLflow user, from
        #: ``credentials``), the request limits, :data:`SHARED_SETTINGS`, and no pickle ever
        #: deserialized (MLflow 3 allows it unless told otherwise)
        shared = {name: os.environ[name] for name in SHARED_SETTINGS if name in os.environ}
        self.server_env = {
            "MLFLOW_TRACKING_URI": tracking_uri,
            **limits.environment(),
            **shared,
            NO_PICKLE[0]: NO_PICKLE[1],
            **(credentials or {}),
        }

    @property
    def url_host(self) -> str:
        """The host in URLs: the listen address, or loopback when listening everywhere."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    def serve_command(self, target: ExplainerRef, host: str, port: int) -> list[str]:
        """Python's arguments that serve ``target`` (``dlexplain eaas serve``: MLflow's scoring
        server behind :class:`dlexplain.serving.app.Guard`)."""
        return [
            "-m",
            "dlexplain.cli",
            "eaas",
            "serve",
            "--model-uri",
            target.model_uri,
            "--host",
            host,
            "--port",
            str(port),
        ]

    def deployment(
        self, target: ExplainerRef, port: int, handle: str, host: str | None = None
    ) -> Deployment:
        """The record of a server of ``target`` started at ``host`` (default :attr:`url_host`)
        and ``port`` (``handle``: PID or container id)."""
        return Deployment(
            run_id=target.run_id,
            model_uri=target.model_uri,
            version=target.version,
            url=f"http://{host or self.url_host}:{port}",
            backend=self.name,
            handle=handle,
            text_column=target.text_column,
            registered_model=target.registered_model,
        )

    @abstractmethod
    def start(self, target: ExplainerRef) -> Deployment:
        """Start a scoring server of ``target`` beside whatever runs; return at once."""

    @abstractmethod
    def problem(self, deployment: Deployment) -> str | None:
        """Why ``deployment`` is not running (with its last log lines), or None if it runs."""

    @abstractmethod
    def stop(self, deployment: Deployment) -> None:
        """Stop and remove ``deployment`` (no error if it is already gone)."""

    def undeploy(self) -> Deployment | None:
        """Stop the active deployment and record that nothing is deployed."""
        active = self.state.active()
        if active is not None:
            self.stop(active)
            self.state.record(None, "undeploy", stopped_run_id=active.run_id)
        return active
