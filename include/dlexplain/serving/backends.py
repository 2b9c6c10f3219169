"""One interface for the places a scoring server runs, and the blue/green ``redeploy`` over it."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

from dlexplain.config import Settings
from dlexplain.serving.checks import ServingError, probe, wait_until_healthy
from dlexplain.serving.deployment import Deployment, DeploymentState, Target

logger = logging.getLogger(__name__)


class DeployBackend(ABC):
    """Starts and stops scoring servers of explainer runs; ``state`` records the active one."""

    name: str

    def __init__(self, state_path: Path, *, tracking_uri: str, host: str = "127.0.0.1",
                 settings: Settings | None = None):
        settings = settings or Settings.from_env()
        self.state = DeploymentState(state_path)
        self.tracking_uri = tracking_uri
        self.host = host
        #: environment of every scoring server: where MLflow is, and the request limits
        self.server_env = {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "DLEXPLAIN_SERVE_MAX_TEXTS": str(settings.serve_max_texts),
            "DLEXPLAIN_SERVE_MAX_CHARS": str(settings.serve_max_chars),
        }

    @property
    def url_host(self) -> str:
        """The host in URLs: the listen address, or loopback when listening everywhere."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    def serve_command(self, target: Target, host: str, port: int) -> list[str]:
        """``mlflow models serve`` arguments (after the program) for ``target``."""
        return ["models", "serve", "-m", target.model_uri, "--env-manager", "local",
                "-h", host, "-p", str(port), "-w", "1"]

    @abstractmethod
    def start(self, target: Target) -> Deployment:
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


def redeploy(backend: DeployBackend, target: Target, timeout: float) -> Deployment:
    """Start ``target`` beside the active server, check it, switch to it, stop the old one.

    The new server must answer ``/ping`` and explain one text as ``target.run_id`` within
    ``timeout`` seconds; otherwise it is removed, the old one keeps serving, the rollback is
    recorded and :class:`ServingError` says why. Deploying the run already active is a no-op.
    """
    old = backend.state.active()
    if old is not None and old.run_id == target.run_id and backend.problem(old) is None:
        logger.info("explainer run %s is already served at %s", target.run_id, old.url)
        return old
    new = backend.start(target)
    logger.info("started %s for explainer run %s at %s; waiting up to %.0fs for health",
                backend.name, target.run_id, new.url, timeout)
    try:
        wait_until_healthy(new.url, timeout, lambda: backend.problem(new))
        probe(new.url, target.run_id, target.text_column)
    except Exception as err:
        backend.stop(new)
        serving = (f"{old.url} (explainer run {old.run_id}) keeps serving" if old
                   else "nothing was deployed before")
        message = f"redeploy of explainer run {target.run_id} rolled back ({serving}): {err}"
        backend.state.record(old, "rollback", failed_run_id=target.run_id, reason=message)
        raise ServingError(message) from err
    backend.state.record(new, "deploy", replaced_run_id=old.run_id if old else None)
    logger.info("explainer run %s now serves at %s", target.run_id, new.url)
    if old is not None:
        backend.stop(old)
        logger.info("stopped explainer run %s at %s", old.run_id, old.url)
    return new


def pending_explainer(registered_model: str, state: DeploymentState) -> Target | None:
    """The newest registered explainer when it is not the one deployed, else None."""
    from dlexplain.registry import newest_explainer

    newest = newest_explainer(registered_model)
    active = state.active()
    if newest is None or (active is not None and active.run_id == newest.run_id):
        return None
    return newest


def backend_from_settings(tracking_uri: str, settings: Settings | None = None) -> DeployBackend:
    """The backend ``DLEXPLAIN_EAAS_BACKEND`` names, configured from the settings."""
    settings = settings or Settings.from_env()
    state_path = settings.eaas_state_path
    if settings.eaas_backend == "docker":
        from dlexplain.serving.docker import DockerBackend

        return DockerBackend(state_path, tracking_uri=tracking_uri, host=settings.eaas_host,
                             image=settings.eaas_image, network=settings.eaas_docker_network,
                             settings=settings)
    from dlexplain.serving.process import ProcessBackend

    return ProcessBackend(state_path, tracking_uri=tracking_uri, host=settings.eaas_host,
                          settings=settings)


def redeploy_target(target: dict, settings: Settings | None = None) -> dict:
    """``redeploy`` a ``Target`` given as a dict (from XCom) with the configured backend."""
    import mlflow

    settings = settings or Settings.from_env()
    backend = backend_from_settings(mlflow.get_tracking_uri(), settings)
    deployment = redeploy(backend, Target(**target), settings.eaas_health_timeout)
    return asdict(deployment)
