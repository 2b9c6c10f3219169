"""Blue/green redeploy over a :class:`DeployBackend`, and which explainer should be served."""

from __future__ import annotations

import logging

from dlexplain.config import Settings
from dlexplain.serving.backend import DeployBackend
from dlexplain.serving.checks import ServingError, probe, wait_until_healthy
from dlexplain.serving.deployment import Deployment, DeploymentState
from dlexplain.tracking.registry import ExplainerRef, explainer_for
from dlexplain.tracking.request_limits import RequestLimits

logger = logging.getLogger(__name__)
#: how much longer than one redeploy's health timeout the next waits for its turn
LOCK_MARGIN_S = 120


def redeploy(backend: DeployBackend, target: ExplainerRef, timeout: float) -> Deployment:
    """Start ``target`` beside the active server, check it, switch to it, stop the old one.

    The new server must answer ``/ping`` and explain one text as ``target.run_id`` within
    ``timeout`` seconds; otherwise it is removed, the old one keeps serving, the rollback is
    recorded and :class:`ServingError` says why. Deploying the run already active (and
    healthy) is a no-op. Redeploys on one state file take turns (a lock held throughout; a
    second one waits up to ``timeout`` plus a margin, then sees what the first deployed).
    """
    try:
        with backend.state.locked(timeout + LOCK_MARGIN_S):
            return _redeploy(backend, target, timeout)
    except TimeoutError as err:
        raise ServingError(f"redeploy of explainer run {target.run_id} not started: {err}") \
            from err


def _redeploy(backend: DeployBackend, target: ExplainerRef, timeout: float) -> Deployment:
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


def serving_target(classifier: str, registered_model: str | None = None) -> ExplainerRef | None:
    """The explainer to serve for ``classifier``: the newest gated fast explainer trained from
    its newest exact explainer (``explainer_for``) when there is one (it answers ``method``
    fast by default and exact on request), else that exact explainer; None when none is logged.
    """
    from dlexplain.tracking.fast_runs import gated_fast

    exact = explainer_for(classifier, registered_model)
    if exact is None:
        return None
    return gated_fast(exact) or exact


def pending_explainer(classifier: str, state: DeploymentState,
                      registered_model: str | None = None) -> ExplainerRef | None:
    """The explainer to serve for ``classifier`` (``serving_target``) when it is not the one
    deployed, else None."""
    newest = serving_target(classifier, registered_model)
    active = state.active()
    if newest is None or (active is not None and active.run_id == newest.run_id):
        return None
    return newest


def backend_from_settings(tracking_uri: str, settings: Settings) -> DeployBackend:
    """The backend ``DLEXPLAIN_EAAS_BACKEND`` names, configured from the settings."""
    options = {"tracking_uri": tracking_uri, "host": settings.eaas_host,
               "limits": RequestLimits(settings.serve_max_texts, settings.serve_max_chars)}
    if settings.eaas_backend == "docker":
        from dlexplain.serving.docker import DockerBackend

        return DockerBackend(settings.eaas_state_path, image=settings.eaas_image,
                             network=settings.eaas_docker_network, **options)
    from dlexplain.serving.process import ProcessBackend

    return ProcessBackend(settings.eaas_state_path, **options)


def redeploy_target(target: ExplainerRef, settings: Settings) -> Deployment:
    """``redeploy`` ``target`` with the configured backend and health timeout."""
    import mlflow

    backend = backend_from_settings(mlflow.get_tracking_uri(), settings)
    return redeploy(backend, target, settings.eaas_health_timeout)
