"""Blue/green redeploy over a :class:`DeployBackend`, and which explainer should be served."""

from __future__ import annotations

import logging
import time
from typing import Any

from dlexplain.config import Settings
from dlexplain.model.lookup import explainer_for
from dlexplain.model.refs import ExplainerRef
from dlexplain.model.request_limits import RequestLimits
from dlexplain.model.trust import check_trusted
from dlexplain.serving.backend import DeployBackend
from dlexplain.serving.checks import ServingError, liveness_problem, probe, wait_until_healthy
from dlexplain.serving.deployment import Deployment, DeploymentState

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
    An explainer whose files are not this package's is never started
    (:class:`~dlexplain.model.trust.UntrustedExplainer`; nothing is recorded).
    """
    check_trusted(target)
    try:
        with backend.state.locked(timeout + LOCK_MARGIN_S):
            return _redeploy(backend, target, timeout)
    except TimeoutError as err:
        raise ServingError(f"redeploy of explainer run {target.run_id} not started: {err}") from err


def _redeploy(backend: DeployBackend, target: ExplainerRef, timeout: float) -> Deployment:
    old = backend.state.active()
    if old is not None and old.run_id == target.run_id:
        problem = backend.problem(old) or liveness_problem(old.url, old.run_id, old.text_column)
        if problem is None:
            logger.info("explainer run %s is already served at %s", target.run_id, old.url)
            return old
        logger.warning(
            "the server of explainer run %s is unhealthy (%s): replacing it", old.run_id, problem
        )
    new = backend.start(target)
    logger.info(
        "started %s for explainer run %s at %s; waiting up to %.0fs for health",
        backend.name,
        target.run_id,
        new.url,
        timeout,
    )
    deadline = time.monotonic() + timeout
    try:
        wait_until_healthy(new.url, timeout, lambda: backend.problem(new))
        # a new server's first explanation warms it up: on a loaded machine it may outrun the
        # server's own time limit (504), which heals; the rest of the timeout is its patience
        probe(new.url, target.run_id, target.text_column, deadline - time.monotonic())
    except Exception as err:
        backend.stop(new)
        serving = (
            f"{old.url} (explainer run {old.run_id}) keeps serving"
            if old
            else "nothing was deployed before"
        )
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
    from dlexplain.model.fast_runs import gated_fast

    exact = explainer_for(classifier, registered_model)
    if exact is None:
        return None
    return gated_fast(exact) or exact


def pending_explainer(
    classifier: str,
    state: DeploymentState,
    registered_model: str | None = None,
    alias: str | None = None,
) -> ExplainerRef | None:
    """The explainer to serve for ``classifier`` (``serving_target``) when it needs a deploy
    (:func:`redeploy_reason`), else None."""
    newest = serving_target(classifier, registered_model)
    if newest is None:
        return None
    reason = redeploy_reason(newest, state.active(), alias)
    if reason is None:
        return None
    logger.info("explainer run %s needs a deploy: %s", newest.run_id, reason)
    return newest


def redeploy_reason(
    newest: ExplainerRef, active: Deployment | None, alias: str | None = None
) -> str | None:
    """Why ``newest`` should be deployed now: nothing or another run is deployed, the deployed
    server fails ``/ping`` or a probe explanation, or ``alias`` of its registered model points
    at another version than the deployed one. None when all is as it should be."""
    from dlexplain.model.lookup import alias_version

    if active is None:
        return "nothing is deployed"
    if active.run_id != newest.run_id:
        return f"explainer run {active.run_id} is deployed"
    problem = liveness_problem(active.url, active.run_id, active.text_column)
    if problem:
        return f"the deployed server is unhealthy: {problem}"
    if alias and active.registered_model:
        pointed = alias_version(active.registered_model, alias)
        if pointed != active.version:
            return (
                f"alias {alias!r} of {active.registered_model} points at version {pointed}, "
                f"the deployed one is {active.version}"
            )
    return None


def backend_from_settings(tracking_uri: str, settings: Settings) -> DeployBackend:
    """The backend ``DLEXPLAIN_EAAS_BACKEND`` names, configured from the settings."""
    from dlexplain.tracking.users import credentials

    options: dict[str, Any] = {
        "tracking_uri": tracking_uri,
        "host": settings.eaas.host,
        "limits": RequestLimits.from_settings(settings),
        "credentials": credentials(settings.eaas.mlflow_user, settings.eaas.mlflow_password),
    }
    if settings.eaas.backend == "docker":
        from dlexplain.serving.docker import DockerBackend

        return DockerBackend(
            settings.eaas.state_path,
            image=settings.eaas.image,
            network=settings.eaas.docker_network,
            memory_mb=settings.eaas.memory_mb,
            **options,
        )
    from dlexplain.serving.process import ProcessBackend

    return ProcessBackend(settings.eaas.state_path, **options)


def redeploy_target(target: ExplainerRef, settings: Settings) -> Deployment:
    """``redeploy`` ``target`` with the configured backend and health timeout."""
    import mlflow

    backend = backend_from_settings(mlflow.get_tracking_uri(), settings)
    return redeploy(backend, target, settings.eaas.health_timeout)
