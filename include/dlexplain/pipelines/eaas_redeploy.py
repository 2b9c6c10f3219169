"""The steps of the ``eaas_redeploy`` DAG: which explainer is waiting to be served (the sensor's
poke), serve it with rollback, and move the alias to the served version."""

from __future__ import annotations

from pathlib import Path

from dlexplain.config import Settings
from dlexplain.errors import ModelError


def pending(
    classifier: str, state_path: str | Path, registered_model: str | None, alias: str | None
) -> tuple[dict | None, str]:
    """``(the explainer to serve as a JSON dict, or None when the served one is current; what is
    deployed now, in words)``; raises ``ModelError`` while nothing can be served yet."""
    from dlexplain.serving.deployment import DeploymentState
    from dlexplain.serving.redeploy import pending_explainer

    state = DeploymentState(Path(state_path))
    target = pending_explainer(classifier, state, registered_model, alias)
    active = state.active()
    deployed = f"run {active.run_id} (version {active.version})" if active else "nothing"
    return (None if target is None else target.to_json_dict()), deployed


def redeploy(target: dict, settings: Settings) -> dict:
    """Serve the explainer ``target`` names (a JSON ``ExplainerRef``), rolled back unless it is
    healthy in time; the new deployment as a JSON dict."""
    from dlexplain.model.refs import ExplainerRef
    from dlexplain.serving.redeploy import redeploy_target

    return redeploy_target(ExplainerRef.from_json_dict(target), settings).to_json_dict()


def promote(deployment: dict, alias: str) -> str:
    """Point ``alias`` at the served version; the ``models:/name@alias`` URI."""
    from dlexplain.model.lookup import set_alias
    from dlexplain.serving.deployment import Deployment

    served = Deployment.from_json_dict(deployment)
    if served.registered_model is None or served.version is None:
        raise ModelError(
            f"run {served.run_id} is served, but not as a registered version: {alias!r} "
            "can point at no version"
        )
    return set_alias(served.registered_model, alias, served.version)


__all__ = ["ModelError", "pending", "promote", "redeploy"]
