"""Which registered versions are the pipeline's own: MLflow's permissions are the proof.

MLflow records no creator for a model version, and a run's user is whatever its client said.
What the server enforces, with the stack's roles (:mod:`dlexplain.tracking.users`), is who may
write where: only the pipeline's user creates runs and logged models in the explainers'
experiment (``DLEXPLAIN_TRUSTED_EXPERIMENT``; empty: any experiment, as on a server without
users). So a version is the pipeline's when its source is the model its run logged, and that run
is in that experiment; any other version was registered by another user, and is never reused,
loaded or served.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

logger = logging.getLogger(__name__)

_LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)$")
#: what MLflow answers for a run the pipeline's user may not read, or that is gone
_NOT_OURS = ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST")


def trusted_experiment() -> str:
    """The experiment explainers are loaded from (``DLEXPLAIN_TRUSTED_EXPERIMENT``), or ''."""
    from dlexplain.config import Settings

    return Settings.from_env().run.trusted_experiment


def run_problem(run) -> str | None:
    """Why ``run`` (an MLflow ``Run``) is not the pipeline's, or None."""
    from mlflow import MlflowClient

    name = trusted_experiment()
    if not name:
        return None
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    if experiment.name != name:
        return (
            f"its run {run.info.run_id} is in experiment {experiment.name!r}, not {name!r} "
            f"(which only the pipeline's MLflow user writes): registered by another user"
        )
    return None


def source_problem(source: str, run_id: str) -> str | None:
    """Why the model ``source`` is not the one run ``run_id`` logged (a ``models:/<logged model
    id>`` of that run, in its experiment), or that run is not the pipeline's; else None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    match = _LOGGED_MODEL.match(source or "")
    if not match or not run_id:
        return f"its source {source!r} is not a model its run logged"
    try:
        model = client.get_logged_model(match["id"])
        run = client.get_run(run_id)
    except MlflowException as err:
        if err.error_code not in _NOT_OURS:
            raise  # the server away: a retry may heal it
        return (
            f"its run {run_id} or source {source!r} is not readable here "
            f"({err.error_code}): registered by another user"
        )
    if model.source_run_id != run_id or model.experiment_id != run.info.experiment_id:
        return (
            f"its source {source!r} was not logged by its run {run_id} "
            f"(logged by run {model.source_run_id!r} in experiment {model.experiment_id})"
        )
    return run_problem(run)


def version_problem(version) -> str | None:
    """Why the registered ``version`` (an MLflow ``ModelVersion``) is not the pipeline's: its
    source is not the model its run logged, or that run is not in the trusted experiment."""
    return source_problem(version.source, version.run_id)


def uri_problem(model_uri: str, run) -> str | None:
    """Why the unregistered ``model_uri`` of ``run`` is not the pipeline's: a logged model's URI
    must be that run's (:func:`source_problem`); a ``runs:/`` URI resolves in the run's own
    experiment, so the run decides."""
    if _LOGGED_MODEL.match(model_uri):
        return source_problem(model_uri, run.info.run_id)
    return run_problem(run)


def own_versions(versions: Iterable) -> list:
    """The versions among ``versions`` that are the pipeline's (:func:`version_problem`); each
    other one is logged with the reason, and never reused or served."""
    kept = []
    for version in versions:
        reason = version_problem(version)
        if reason:
            logger.warning(
                "version %s of %s is not the pipeline's and is skipped: %s",
                version.version,
                version.name,
                reason,
            )
        else:
            kept.append(version)
    return kept
