"""Log explainers (idempotently) and register models in the MLflow model registry."""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from dlexplain.base.environment import scoped_environ
from dlexplain.errors import ModelError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.model import pyfunc
from dlexplain.model.identity import PACKAGE_DIR, explainer_identity
from dlexplain.model.refs import EXPLAINER_MODEL_NAME, ExplainerRef
from dlexplain.model.signature import explainer_signature
from dlexplain.tracking.filters import where
from dlexplain.tracking.provenance import own_versions
from dlexplain.tracking.runs import (
    EXPLAINERS_EXPERIMENT,
    KIND_EXPLAINER,
    TAG_KIND,
    TAG_SOURCE_KEY,
    experiment_id,
    find_run,
)
from dlexplain.tracking.sources import (
    SourceModel,
    describe_source,
    materialise,
)

logger = logging.getLogger(__name__)

DEFAULT_REGISTERED_EXPLAINER = "sentiment-explainer"

TAG_SOURCE_URI = "dlexplain.source_model"
TAG_IDENTITY = "dlexplain.explainer_identity"
#: why the explainer masks as its config's ``masking`` says (the tokenizer probe's finding)
TAG_MASKING_REASON = "dlexplain.masking_reason"
#: on registered classifier versions: the content digest of the folder they were logged from
#: (the tag's name is kept from 0.1, so classifiers registered then are found)
TAG_FOLDER_DIGEST = "dlexplain.source_identity"


INPUT_EXAMPLE = pd.DataFrame({"text": [pyfunc.INPUT_TEXT]})


@dataclass(frozen=True)
class ExplainerSpec:
    """What identifies an explainer besides its source model."""

    config: ExplainerConfig = ExplainerConfig()
    text_column: str = "text"


def explainer_name(source: SourceModel) -> str:
    """The registered name of ``source``'s explainer: ``<name>-explainer`` for a registered
    classifier (``sentiment-classifier`` → ``sentiment-explainer``), the folder's name for a
    Hugging Face folder, ``run-<id>`` for a run's model; one served explainer per classifier."""
    if source.registered_name:
        stem = source.registered_name.removesuffix("-classifier")
    elif source.folder is not None:
        stem = source.folder.name
    else:
        stem = "run-" + source.uri.removeprefix("runs:/").split("/")[0][:12]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "classifier"
    return f"{stem}-explainer"


def log_explainer(
    source_model: str | Path,
    spec: ExplainerSpec | None = None,
    experiment: str = EXPLAINERS_EXPERIMENT,
    *,
    registered_model_name: str | None = None,
) -> ExplainerRef:
    """Log the explainer of ``source_model`` (HF folder or MLflow URI) and register it under
    ``registered_model_name`` (default :func:`explainer_name` of the source).

    Idempotent: when the experiment already holds an explainer run of the same identity (source
    weights, settings, input column, package version), that run is returned (and registered
    under the name if it is not yet), and nothing is logged or downloaded.
    """
    spec = spec or ExplainerSpec()
    source = describe_source(source_model)
    name = registered_model_name or explainer_name(source)
    identity = explainer_identity(source.key, spec.config, spec.text_column)
    existing = find_run(
        experiment, {TAG_KIND: KIND_EXPLAINER, TAG_IDENTITY: identity}, finished=True
    )
    if existing:
        logger.info(
            "explainer of %s exists: run %s (identity %s)", source.uri, existing, identity[:16]
        )
        run_id = existing
    else:
        with tempfile.TemporaryDirectory(prefix="dlexplain-source-") as workdir:
            folder = materialise(source, Path(workdir))
            spec, reason = _resolved(spec, _check_loads(folder))
            run_id = _log_new_explainer(source, folder, identity, spec, experiment, reason)
    version = _registered_version(name, run_id)
    return replace(
        ExplainerRef.of_run(run_id, spec.text_column), registered_model=name, version=version
    )


def _resolved(spec: ExplainerSpec, classifier) -> tuple[ExplainerSpec, str]:
    """``spec`` with its masking decided for ``classifier``'s tokenizer (``auto`` probes it,
    ``dlexplain.explain.masking``), and why: the logged config masks as it was decided here."""
    from dlexplain.explain.masking import choose_masking

    masking = choose_masking(classifier.tokenizer, spec.config.masking)
    return replace(spec, config=replace(spec.config, masking=masking.kind)), masking.reason


def _check_loads(folder: Path):
    """Load the classifier once before logging its explainer (and return it): weights that
    cannot be read are a :class:`ModelError` here, not a failure of every Spark task later."""
    from dlexplain.errors import DlexplainError
    from dlexplain.explain.classifier import TextClassifier

    try:
        return TextClassifier.from_pretrained(folder, device="cpu")
    except DlexplainError:
        raise
    except Exception as err:  # transformers/torch: missing or corrupt weights, bad tokenizer
        raise ModelError(
            f"the classifier in {str(folder)!r} cannot be loaded: {type(err).__name__}: {err}"
        ) from err


def _registered_version(name: str, run_id: str) -> str:
    """The version of ``name`` that holds run ``run_id``'s explainer, registered if missing."""
    found = own_versions(
        MlflowClient().search_model_versions(where({"name": name, "run_id": run_id}))
    )
    if found:
        return str(max(int(v.version) for v in found))
    registered = mlflow.register_model(ExplainerRef.of_run(run_id).model_uri, name)
    logger.info("explainer run %s registered as %s version %s", run_id, name, registered.version)
    return str(registered.version)


def _log_new_explainer(
    source: SourceModel,
    folder: Path,
    identity: str,
    spec: ExplainerSpec,
    experiment: str,
    masking_reason: str,
) -> str:
    import shap
    import torch
    import transformers

    tags = {
        TAG_KIND: KIND_EXPLAINER,
        TAG_SOURCE_URI: source.uri,
        TAG_SOURCE_KEY: source.key,
        TAG_IDENTITY: identity,
        "shap_version": shap.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        TAG_MASKING_REASON: masking_reason[:5000],
    }
    with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags) as run:
        mlflow.log_params(
            {**spec.config.to_dict(), "text_column": spec.text_column, "source_model": source.uri}
        )
        log_explainer_model(run.info.run_id, folder, spec, identity, tags)
    return run.info.run_id


def log_explainer_model(
    run_id: str,
    classifier_folder: Path,
    spec: ExplainerSpec,
    identity: str,
    tags: dict,
    fast_folder: Path | None = None,
) -> None:
    """Log the explainer pyfunc (models-from-code, no pickle) into the active run ``run_id``:
    the classifier folder and, for a fast explainer, its network as artifacts."""
    package = PACKAGE_DIR
    artifacts = {pyfunc.ARTIFACT_CLASSIFIER: str(classifier_folder)}
    if fast_folder is not None:
        artifacts[pyfunc.ARTIFACT_FAST] = str(fast_folder)
    # MLflow imports the entry file it copied into the model folder before uploading it: with
    # bytecode on, a __pycache__ would be logged beside it, and the trust check refuses .pyc
    # files (Python would run one whose header matches the source, instead of the source)
    # and no env_vars key nor environment_variables.txt, which MLflow adds when the input
    # example's validation reads a variable named like a key: the check allows neither
    from mlflow.environment_variables import MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING

    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        with scoped_environ({MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING.name: "false"}):
            info = _log_pyfunc(package, artifacts, spec, run_id, identity, tags, fast_folder)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    logger.info("logged explainer run %s (model %s)", run_id, info.model_uri)


def _log_pyfunc(
    package: Path,
    artifacts: dict,
    spec: ExplainerSpec,
    run_id: str,
    identity: str,
    tags: dict,
    fast_folder: Path | None,
):
    """``mlflow.pyfunc.log_model`` of our explainer: entry file, package, config, signature."""
    return mlflow.pyfunc.log_model(
        name=EXPLAINER_MODEL_NAME,
        python_model=str(package / "model" / pyfunc.ENTRY_FILE),
        artifacts=artifacts,
        model_config={
            pyfunc.CONFIG_EXPLAINER: spec.config.to_dict(),
            pyfunc.CONFIG_TEXT_COLUMN: spec.text_column,
            pyfunc.CONFIG_RUN_ID: run_id,
            pyfunc.CONFIG_IDENTITY: identity,
        },
        code_paths=[str(package)],
        signature=explainer_signature(spec.text_column, fast=fast_folder is not None),
        input_example=INPUT_EXAMPLE.rename(columns={"text": spec.text_column}),
        pip_requirements=pyfunc.pinned_requirements(),
        tags=tags,
    )
