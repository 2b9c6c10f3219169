"""Registered explainers found again: by version or alias, the newest, the one of a classifier's
weights; aliases set."""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from dlexplain.errors import ModelError
from dlexplain.model.refs import ExplainerRef, ref_of_version
from dlexplain.model.registry import DEFAULT_REGISTERED_EXPLAINER, explainer_name
from dlexplain.tracking.filters import where
from dlexplain.tracking.provenance import own_versions
from dlexplain.tracking.runs import TAG_SOURCE_KEY
from dlexplain.tracking.sources import (
    describe_source,
)

logger = logging.getLogger(__name__)


def registered_explainer(
    registered_model: str, version: str | None = None, alias: str | None = None
) -> ExplainerRef | None:
    """Version ``version``, or the one ``alias`` points at, or else the newest version of
    ``registered_model`` (None when it has none)."""
    client = MlflowClient()
    if version or alias:
        try:
            if alias:
                found = client.get_model_version_by_alias(registered_model, alias)
            else:
                assert version is not None  # `version or alias` above, and no alias
                found = client.get_model_version(registered_model, version)
        except MlflowException as err:
            raise ModelError(
                f"no explainer {registered_model} "
                f"{'@' + alias if alias else 'version ' + str(version)}: "
                f"{err.message}"
            ) from err
        return ref_of_version(registered_model, found)
    versions = client.search_model_versions(where({"name": registered_model}))
    return (
        ref_of_version(registered_model, max(versions, key=lambda v: int(v.version)))
        if versions
        else None
    )


def newest_explainer(registered_model: str = DEFAULT_REGISTERED_EXPLAINER) -> ExplainerRef | None:
    """The newest registered version of ``registered_model`` (or None)."""
    return registered_explainer(registered_model)


def explainer_for(classifier: str, registered_model: str | None = None) -> ExplainerRef | None:
    """The newest registered explainer of the weights ``classifier`` names now (e.g. what
    ``sentiment-classifier@champion`` points at), or None when none is logged yet.

    Looks in ``registered_model`` (default :func:`explainer_name` of the classifier) for the
    versions whose run explains the same weights (tag ``dlexplain.source_key``), so explaining
    another model never changes the answer.
    """
    source = describe_source(classifier)
    name = registered_model or explainer_name(source)
    client = MlflowClient()
    matching = [
        v
        for v in own_versions(client.search_model_versions(where({"name": name})))
        if client.get_run(v.run_id).data.tags.get(TAG_SOURCE_KEY) == source.key
    ]
    return ref_of_version(name, max(matching, key=lambda v: int(v.version))) if matching else None


def alias_version(registered_model: str, alias: str) -> str | None:
    """The version ``alias`` of ``registered_model`` points at, or None when it is not set."""
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(registered_model, alias).version)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST" and "not found" not in str(err).lower():
            raise
        return None


def set_alias(registered_model: str, alias: str, version: str) -> str:
    """Point ``alias`` of ``registered_model`` at ``version``; the ``models:/name@alias`` URI."""
    MlflowClient().set_registered_model_alias(registered_model, alias, version)
    logger.info("alias %s of %s now points at version %s", alias, registered_model, version)
    return f"models:/{registered_model}@{alias}"
