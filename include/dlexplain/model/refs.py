"""ExplainerRef: which logged explainer a run, URI, registered version or alias names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from dlexplain.base.records import Record
from dlexplain.errors import ModelError
from dlexplain.tracking.filters import where
from dlexplain.tracking.sources import (
    is_deterministic,
)

EXPLAINER_MODEL_NAME = "explainer"


_REGISTERED_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/]+))?$")


@dataclass(frozen=True)
class ExplainerRef(Record):
    """A logged explainer: its run, the URI it loads from, and its input column."""

    run_id: str
    model_uri: str
    text_column: str = "text"
    registered_model: str | None = None
    version: str | None = None
    #: the exact explainer this one was trained from (a fast explainer), else None
    exact_run_id: str | None = None
    #: that exact explainer's registered model (a fast explainer), else None
    exact_registered_model: str | None = None

    @property
    def exact_run(self) -> str:
        """The exact explainer behind this one: whose explanations train its fast explainers."""
        return self.exact_run_id or self.run_id

    @property
    def exact_name(self) -> str | None:
        """The registered model of :attr:`exact_run`."""
        return self.exact_registered_model if self.exact_run_id else self.registered_model

    @classmethod
    def of_run(cls, run_id: str, text_column: str = "text") -> ExplainerRef:
        """The explainer run ``run_id`` logged, by its logged model's URI."""
        return cls(run_id=run_id, model_uri=logged_model_uri(run_id), text_column=text_column)

    @classmethod
    def of_uri(cls, uri: str) -> ExplainerRef:
        """The explainer a model URI names: ``models:/<name>/<version>``, ``models:/<name>@<alias>``
        (pinned to the version it points at now), ``models:/<logged model id>`` or
        ``runs:/<run id>/<path>``; :class:`ModelError` for anything else."""
        client = MlflowClient()
        try:
            if uri.startswith("runs:/"):
                return cls(run_id=uri.removeprefix("runs:/").split("/")[0], model_uri=uri)
            match = _REGISTERED_URI.match(uri)
            if match and (match["version"] or match["alias"]):
                found = (
                    client.get_model_version(match["name"], match["version"])
                    if match["version"]
                    else client.get_model_version_by_alias(match["name"], match["alias"])
                )
                return ref_of_version(match["name"], found)
            if match:  # models:/<logged model id>
                model = client.get_logged_model(match["name"])
                if model.source_run_id is None:
                    raise ModelError(f"{uri!r} has no source run: not an explainer dlexplain logs")
                return cls(run_id=model.source_run_id, model_uri=uri)
        except MlflowException as err:
            if not is_deterministic(err):
                raise  # the server away: a retry may heal it
            raise ModelError(f"no explainer at {uri!r}: {err.message}") from err
        raise ModelError(f"{uri!r} is not an MLflow model URI (models:/…, runs:/…)")


def logged_model_uri(run_id: str, name: str = EXPLAINER_MODEL_NAME) -> str:
    """``models:/<model id>`` of the newest model ``name`` that run ``run_id`` logged.

    Not ``runs:/<run id>/<name>``: MLflow 3 keeps a model's files with the logged model, and a
    ``runs:/`` URI first asks the run's own artifacts, which a tracking server on S3 answers
    with a 500 that the client retries for minutes before it falls back to the logged model.
    """
    client = MlflowClient()
    experiment = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models(
        experiment_ids=[experiment], filter_string=where({"source_run_id": run_id, "name": name})
    )
    if not found:
        raise ModelError(f"run {run_id} logged no model named {name!r}")
    return max(found, key=lambda m: m.creation_timestamp).model_uri


def ref_of_version(registered_model: str, version) -> ExplainerRef:
    params = MlflowClient().get_run(version.run_id).data.params
    return ExplainerRef(
        run_id=version.run_id,
        model_uri=f"models:/{registered_model}/{version.version}",
        text_column=params.get("text_column", "text"),
        registered_model=registered_model,
        version=str(version.version),
    )
