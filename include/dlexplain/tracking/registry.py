"""Log explainers (idempotently) and register models in the MLflow model registry."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from dlexplain.base.records import Record
from dlexplain.explain.config import ExplainerConfig
from dlexplain.tracking import pyfunc
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (EXPLAINERS_EXPERIMENT, KIND_CLASSIFIER, KIND_EXPLAINER,
                                     TAG_KIND, experiment_id, find_run)
from dlexplain.tracking.sources import SourceModel, describe_source, folder_digest, materialise

logger = logging.getLogger(__name__)

DEFAULT_REGISTERED_EXPLAINER = "sentiment-explainer"
DEFAULT_REGISTERED_CLASSIFIER = "sentiment-classifier"
EXPLAINER_MODEL_NAME = "explainer"

TAG_SOURCE_URI = "dlexplain.source_model"
TAG_SOURCE_KEY = "dlexplain.source_key"
TAG_IDENTITY = "dlexplain.explainer_identity"
#: on registered classifier versions: the content digest of the folder they were logged from
#: (the tag's name is kept from 0.1, so classifiers registered then are found)
TAG_FOLDER_DIGEST = "dlexplain.source_identity"

INPUT_EXAMPLE = pd.DataFrame({"text": ["What a wonderful, moving film."]})


@dataclass(frozen=True)
class ExplainerSpec:
    """What identifies an explainer besides its source model."""

    config: ExplainerConfig = ExplainerConfig()
    text_column: str = "text"


@dataclass(frozen=True)
class ExplainerRef(Record):
    """A logged explainer: its run, the URI it loads from, and its input column."""

    run_id: str
    model_uri: str
    text_column: str = "text"
    registered_model: str | None = None
    version: str | None = None

    @classmethod
    def of_run(cls, run_id: str, text_column: str = "text") -> ExplainerRef:
        return cls(run_id=run_id, model_uri=f"runs:/{run_id}/{EXPLAINER_MODEL_NAME}",
                   text_column=text_column)


def log_explainer(source_model: str | Path, spec: ExplainerSpec | None = None,
                  experiment: str = EXPLAINERS_EXPERIMENT, *,
                  registered_model_name: str = DEFAULT_REGISTERED_EXPLAINER) -> ExplainerRef:
    """Log the explainer of ``source_model`` (HF folder or MLflow URI) and register it.

    Idempotent: when the experiment already holds an explainer run of the same identity (source
    weights, settings, input column, package version), that run is returned, and nothing is
    logged or downloaded.
    """
    spec = spec or ExplainerSpec()
    source = describe_source(source_model)
    identity = pyfunc.explainer_identity(source.key, spec.config, spec.text_column)
    existing = find_run(experiment, {TAG_KIND: KIND_EXPLAINER, TAG_IDENTITY: identity},
                        finished=True)
    if existing:
        logger.info("explainer of %s exists: run %s (identity %s)", source.uri, existing,
                    identity[:16])
        return ExplainerRef.of_run(existing, spec.text_column)
    with tempfile.TemporaryDirectory(prefix="dlexplain-source-") as workdir:
        folder = materialise(source, Path(workdir))
        run_id = _log_new_explainer(source, folder, identity, spec, experiment,
                                    registered_model_name)
    return ExplainerRef.of_run(run_id, spec.text_column)


def _log_new_explainer(source: SourceModel, folder: Path, identity: str, spec: ExplainerSpec,
                       experiment: str, registered_model_name: str) -> str:
    import shap
    import torch
    import transformers

    import dlexplain

    tags = {
        TAG_KIND: KIND_EXPLAINER, TAG_SOURCE_URI: source.uri, TAG_SOURCE_KEY: source.key,
        TAG_IDENTITY: identity, "shap_version": shap.__version__,
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
    }
    with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags) as run:
        mlflow.log_params({**spec.config.to_dict(), "text_column": spec.text_column,
                           "source_model": source.uri})
        package = Path(dlexplain.__file__).parent
        info = mlflow.pyfunc.log_model(
            name=EXPLAINER_MODEL_NAME,
            python_model=str(package / "tracking" / "pyfunc_entry.py"),
            artifacts={pyfunc.ARTIFACT_CLASSIFIER: str(folder)},
            model_config={pyfunc.CONFIG_EXPLAINER: spec.config.to_dict(),
                          pyfunc.CONFIG_TEXT_COLUMN: spec.text_column,
                          pyfunc.CONFIG_RUN_ID: run.info.run_id,
                          pyfunc.CONFIG_IDENTITY: identity},
            code_paths=[str(package)],
            signature=pyfunc.explainer_signature(spec.text_column),
            input_example=INPUT_EXAMPLE.rename(columns={"text": spec.text_column}),
            pip_requirements=pyfunc.pinned_requirements(),
            registered_model_name=registered_model_name,
            tags=tags,
        )
    logger.info("logged explainer run %s (model %s, registered %s v%s)", run.info.run_id,
                info.model_uri, registered_model_name, info.registered_model_version)
    return run.info.run_id


def register_classifier(folder: Path, name: str = DEFAULT_REGISTERED_CLASSIFIER,
                        alias: str = "champion", experiment: str = EXPLAINERS_EXPERIMENT) -> str:
    """Register a HF classifier folder with ``mlflow.transformers`` and point ``alias`` at it.

    Idempotent: a version already registered from the same folder content is reused.
    Returns the ``models:/name@alias`` URI.
    """
    client = MlflowClient()
    digest = folder_digest(folder)
    found = client.search_model_versions(where({"name": name, tag(TAG_FOLDER_DIGEST): digest}))
    if found:
        version = found[0].version
    else:
        from dlexplain.explain.classifier import TextClassifier

        classifier = TextClassifier.from_pretrained(folder, device="cpu")
        tags = {TAG_KIND: KIND_CLASSIFIER, TAG_FOLDER_DIGEST: digest}
        with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags):
            info = mlflow.transformers.log_model(
                transformers_model={"model": classifier.model, "tokenizer": classifier.tokenizer},
                name="classifier", task="text-classification",
                registered_model_name=name, pip_requirements=pyfunc.pinned_requirements(),
            )
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, TAG_FOLDER_DIGEST, digest)
    client.set_registered_model_alias(name, alias, version)
    logger.info("classifier %s registered as %s version %s (alias %s)", folder, name, version, alias)
    return f"models:/{name}@{alias}"


def newest_explainer(registered_model: str = DEFAULT_REGISTERED_EXPLAINER) -> ExplainerRef | None:
    """The newest registered version of ``registered_model`` (or None)."""
    client = MlflowClient()
    versions = client.search_model_versions(where({"name": registered_model}))
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    params = client.get_run(newest.run_id).data.params
    return ExplainerRef(run_id=newest.run_id, model_uri=f"models:/{registered_model}/{newest.version}",
                        text_column=params.get("text_column", "text"),
                        registered_model=registered_model, version=str(newest.version))


def set_alias(registered_model: str, alias: str, version: str) -> str:
    """Point ``alias`` of ``registered_model`` at ``version``; the ``models:/name@alias`` URI."""
    MlflowClient().set_registered_model_alias(registered_model, alias, version)
    logger.info("alias %s of %s now points at version %s", alias, registered_model, version)
    return f"models:/{registered_model}@{alias}"
