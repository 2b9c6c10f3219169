"""Log explainers (idempotently) and register models in the MLflow model registry."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

import dlexplain
from dlexplain.engine import ExplainerConfig
from dlexplain.mlflow_explainer import (ARTIFACT_CLASSIFIER, CONFIG_EXPLAINER, CONFIG_RUN_ID,
                                        CONFIG_TEXT_COLUMN, explainer_signature,
                                        pinned_requirements)
from dlexplain.sources import SourceModel, folder_digest, resolve_source

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "dlexplain-explainers"
DEFAULT_REGISTERED_EXPLAINER = "sentiment-explainer"
DEFAULT_REGISTERED_CLASSIFIER = "sentiment-classifier"
EXPLAINER_MODEL_NAME = "explainer"

TAG_KIND = "dlexplain.kind"
TAG_SOURCE_URI = "dlexplain.source_model"
TAG_SOURCE_IDENTITY = "dlexplain.source_identity"
TAG_SOURCE_VERSION = "dlexplain.source_version"
TAG_CONFIG_HASH = "dlexplain.config_hash"
KIND_EXPLAINER = "explainer"
KIND_CLASSIFIER = "classifier"

INPUT_EXAMPLE = pd.DataFrame({"text": ["What a wonderful, moving film."]})


@dataclass(frozen=True)
class ExplainerSpec:
    """What identifies an explainer besides its source model."""

    config: ExplainerConfig = ExplainerConfig()
    text_column: str = "text"

    def config_hash(self) -> str:
        payload = {"engine": self.config.fingerprint(), "text_column": self.text_column,
                   "dlexplain": dlexplain.__version__}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def experiment_id(name: str) -> str:
    """The id of experiment ``name``, created when missing."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


def find_or_create_run(experiment: str, key: dict[str, str], tags: dict[str, str] | None = None,
                       run_name: str | None = None) -> str:
    """The run of ``experiment`` tagged with every ``key`` tag, created (with ``tags``) if none.

    Used for explanation runs: one per partition, reused when the same work is done again.
    """
    client = MlflowClient()
    exp_id = experiment_id(experiment)
    clauses = " and ".join(f"tags.`{k}` = '{v}'" for k, v in key.items())
    runs = client.search_runs([exp_id], filter_string=clauses,
                              order_by=["attributes.start_time ASC"], max_results=1)
    if runs:
        return runs[0].info.run_id
    run = client.create_run(exp_id, tags={**key, **(tags or {})}, run_name=run_name)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def find_explainer_run(experiment: str, identity: str, config_hash: str) -> str | None:
    """run_id of a finished explainer run for this source identity and config, if any."""
    runs = MlflowClient().search_runs(
        [experiment_id(experiment)],
        filter_string=(f"tags.`{TAG_KIND}` = '{KIND_EXPLAINER}' "
                       f"and tags.`{TAG_SOURCE_IDENTITY}` = '{identity}' "
                       f"and tags.`{TAG_CONFIG_HASH}` = '{config_hash}' "
                       "and attributes.status = 'FINISHED'"),
        order_by=["attributes.start_time ASC"], max_results=1,
    )
    return runs[0].info.run_id if runs else None


def log_explainer(source_model: str | Path, spec: ExplainerSpec | None = None,
                  experiment: str = DEFAULT_EXPERIMENT, *,
                  registered_model_name: str = DEFAULT_REGISTERED_EXPLAINER) -> str:
    """Log the explainer of ``source_model`` (HF folder or MLflow URI) and register it.

    Idempotent: when the experiment already holds an explainer run for the same source model and
    the same spec, its run_id is returned and nothing is logged.
    """
    spec = spec or ExplainerSpec()
    config_hash = spec.config_hash()
    with tempfile.TemporaryDirectory(prefix="dlexplain-source-") as workdir:
        source = resolve_source(source_model, Path(workdir))
        existing = find_explainer_run(experiment, source.identity, config_hash)
        if existing:
            logger.info("explainer for %s (config %s) exists: run %s", source.identity,
                        config_hash, existing)
            return existing
        return _log_new_explainer(source, spec, experiment, registered_model_name)


def _log_new_explainer(source: SourceModel, spec: ExplainerSpec, experiment: str,
                       registered_model_name: str) -> str:
    import shap
    import torch
    import transformers

    tags = {
        TAG_KIND: KIND_EXPLAINER, TAG_SOURCE_URI: source.uri,
        TAG_SOURCE_IDENTITY: source.identity, TAG_SOURCE_VERSION: source.registered_version or "",
        TAG_CONFIG_HASH: spec.config_hash(), "shap_version": shap.__version__,
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
    }
    with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags) as run:
        mlflow.log_params({**spec.config.to_dict(), "text_column": spec.text_column,
                           "source_model": source.uri})
        info = mlflow.pyfunc.log_model(
            name=EXPLAINER_MODEL_NAME,
            python_model=str(Path(dlexplain.__file__).parent / "pyfunc_entry.py"),
            artifacts={ARTIFACT_CLASSIFIER: str(source.folder)},
            model_config={CONFIG_EXPLAINER: spec.config.to_dict(),
                          CONFIG_TEXT_COLUMN: spec.text_column, CONFIG_RUN_ID: run.info.run_id},
            code_paths=[str(Path(dlexplain.__file__).parent)],
            signature=explainer_signature(spec.text_column),
            input_example=INPUT_EXAMPLE.rename(columns={"text": spec.text_column}),
            pip_requirements=pinned_requirements(),
            registered_model_name=registered_model_name,
            tags=tags,
        )
    logger.info("logged explainer run %s (model %s, registered %s v%s)", run.info.run_id,
                info.model_uri, registered_model_name, info.registered_model_version)
    return run.info.run_id


def register_classifier(folder: Path, name: str = DEFAULT_REGISTERED_CLASSIFIER,
                        alias: str = "champion", experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Register a HF classifier folder with ``mlflow.transformers`` and point ``alias`` at it.

    Idempotent: a version already registered from the same folder content is reused.
    Returns the ``models:/name@alias`` URI.
    """
    client = MlflowClient()
    identity = folder_digest(folder)
    found = client.search_model_versions(
        f"name = '{name}' and tags.`{TAG_SOURCE_IDENTITY}` = '{identity}'")
    if found:
        version = found[0].version
    else:
        from dlexplain.classifier import TextClassifier

        classifier = TextClassifier.from_pretrained(folder, device="cpu")
        tags = {TAG_KIND: KIND_CLASSIFIER, TAG_SOURCE_IDENTITY: identity}
        with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags):
            info = mlflow.transformers.log_model(
                transformers_model={"model": classifier.model, "tokenizer": classifier.tokenizer},
                name="classifier", task="text-classification",
                registered_model_name=name, pip_requirements=pinned_requirements(),
            )
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, TAG_SOURCE_IDENTITY, identity)
    client.set_registered_model_alias(name, alias, version)
    logger.info("classifier %s registered as %s version %s (alias %s)", folder, name, version, alias)
    return f"models:/{name}@{alias}"


def newest_explainer(registered_model: str = DEFAULT_REGISTERED_EXPLAINER):
    """The newest registered version of ``registered_model`` as a deploy ``Target`` (or None)."""
    from dlexplain.serving.deployment import Target

    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{registered_model}'")
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    params = client.get_run(newest.run_id).data.params
    return Target(run_id=newest.run_id, model_uri=f"models:/{registered_model}/{newest.version}",
                  version=str(newest.version), text_column=params.get("text_column", "text"))


def set_alias(registered_model: str, alias: str, version: str) -> str:
    """Point ``alias`` of ``registered_model`` at ``version``; the ``models:/name@alias`` URI."""
    MlflowClient().set_registered_model_alias(registered_model, alias, version)
    logger.info("alias %s of %s now points at version %s", alias, registered_model, version)
    return f"models:/{registered_model}@{alias}"
