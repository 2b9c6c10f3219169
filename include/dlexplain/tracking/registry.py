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
from mlflow.exceptions import MlflowException

from dlexplain.base.environment import scoped_environ
from dlexplain.base.records import Record
from dlexplain.errors import ModelError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.tracking import pyfunc
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.provenance import own_versions
from dlexplain.tracking.runs import (EXPLAINERS_EXPERIMENT, KIND_CLASSIFIER, KIND_EXPLAINER,
                                     TAG_KIND, experiment_id, find_run)
from dlexplain.tracking.sources import (SourceModel, describe_source, folder_digest,
                                       is_deterministic, materialise)

logger = logging.getLogger(__name__)

DEFAULT_REGISTERED_CLASSIFIER = "sentiment-classifier"
DEFAULT_REGISTERED_EXPLAINER = "sentiment-explainer"
EXPLAINER_MODEL_NAME = "explainer"

TAG_SOURCE_URI = "dlexplain.source_model"
TAG_SOURCE_KEY = "dlexplain.source_key"
TAG_IDENTITY = "dlexplain.explainer_identity"
#: why the explainer masks as its config's ``masking`` says (the tokenizer probe's finding)
TAG_MASKING_REASON = "dlexplain.masking_reason"
#: on registered classifier versions: the content digest of the folder they were logged from
#: (the tag's name is kept from 0.1, so classifiers registered then are found)
TAG_FOLDER_DIGEST = "dlexplain.source_identity"

_REGISTERED_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/]+))?$")

INPUT_EXAMPLE = pd.DataFrame({"text": [pyfunc.INPUT_TEXT]})


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
                found = (client.get_model_version(match["name"], match["version"])
                         if match["version"] else
                         client.get_model_version_by_alias(match["name"], match["alias"]))
                return _ref(match["name"], found)
            if match:  # models:/<logged model id>
                model = client.get_logged_model(match["name"])
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
        experiment_ids=[experiment], filter_string=where({"source_run_id": run_id, "name": name}))
    if not found:
        raise ModelError(f"run {run_id} logged no model named {name!r}")
    return max(found, key=lambda m: m.creation_timestamp).model_uri


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


def log_explainer(source_model: str | Path, spec: ExplainerSpec | None = None,
                  experiment: str = EXPLAINERS_EXPERIMENT, *,
                  registered_model_name: str | None = None) -> ExplainerRef:
    """Log the explainer of ``source_model`` (HF folder or MLflow URI) and register it under
    ``registered_model_name`` (default :func:`explainer_name` of the source).

    Idempotent: when the experiment already holds an explainer run of the same identity (source
    weights, settings, input column, package version), that run is returned (and registered
    under the name if it is not yet), and nothing is logged or downloaded.
    """
    spec = spec or ExplainerSpec()
    source = describe_source(source_model)
    name = registered_model_name or explainer_name(source)
    identity = pyfunc.explainer_identity(source.key, spec.config, spec.text_column)
    existing = find_run(experiment, {TAG_KIND: KIND_EXPLAINER, TAG_IDENTITY: identity},
                        finished=True)
    if existing:
        logger.info("explainer of %s exists: run %s (identity %s)", source.uri, existing,
                    identity[:16])
        run_id = existing
    else:
        with tempfile.TemporaryDirectory(prefix="dlexplain-source-") as workdir:
            folder = materialise(source, Path(workdir))
            spec, reason = _resolved(spec, _check_loads(folder))
            run_id = _log_new_explainer(source, folder, identity, spec, experiment, reason)
    version = _registered_version(name, run_id)
    return replace(ExplainerRef.of_run(run_id, spec.text_column), registered_model=name,
                   version=version)


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
        raise ModelError(f"the classifier in {str(folder)!r} cannot be loaded: "
                         f"{type(err).__name__}: {err}") from err


def _registered_version(name: str, run_id: str) -> str:
    """The version of ``name`` that holds run ``run_id``'s explainer, registered if missing."""
    found = own_versions(MlflowClient().search_model_versions(where({"name": name,
                                                                     "run_id": run_id})))
    if found:
        return str(max(int(v.version) for v in found))
    registered = mlflow.register_model(ExplainerRef.of_run(run_id).model_uri, name)
    logger.info("explainer run %s registered as %s version %s", run_id, name, registered.version)
    return str(registered.version)


def _log_new_explainer(source: SourceModel, folder: Path, identity: str, spec: ExplainerSpec,
                       experiment: str, masking_reason: str) -> str:
    import shap
    import torch
    import transformers

    tags = {
        TAG_KIND: KIND_EXPLAINER, TAG_SOURCE_URI: source.uri, TAG_SOURCE_KEY: source.key,
        TAG_IDENTITY: identity, "shap_version": shap.__version__,
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
        TAG_MASKING_REASON: masking_reason[:5000],
    }
    with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags) as run:
        mlflow.log_params({**spec.config.to_dict(), "text_column": spec.text_column,
                           "source_model": source.uri})
        log_explainer_model(run.info.run_id, folder, spec, identity, tags)
    return run.info.run_id


def log_explainer_model(run_id: str, classifier_folder: Path, spec: ExplainerSpec, identity: str,
                        tags: dict, fast_folder: Path | None = None) -> None:
    """Log the explainer pyfunc (models-from-code, no pickle) into the active run ``run_id``:
    the classifier folder and, for a fast explainer, its network as artifacts."""
    package = pyfunc.PACKAGE_DIR
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


def _log_pyfunc(package: Path, artifacts: dict, spec: ExplainerSpec, run_id: str, identity: str,
                tags: dict, fast_folder: Path | None):
    """``mlflow.pyfunc.log_model`` of our explainer: entry file, package, config, signature."""
    return mlflow.pyfunc.log_model(
        name=EXPLAINER_MODEL_NAME,
        python_model=str(package / "tracking" / pyfunc.ENTRY_FILE),
        artifacts=artifacts,
        model_config={pyfunc.CONFIG_EXPLAINER: spec.config.to_dict(),
                      pyfunc.CONFIG_TEXT_COLUMN: spec.text_column,
                      pyfunc.CONFIG_RUN_ID: run_id,
                      pyfunc.CONFIG_IDENTITY: identity},
        code_paths=[str(package)],
        signature=pyfunc.explainer_signature(spec.text_column, fast=fast_folder is not None),
        input_example=INPUT_EXAMPLE.rename(columns={"text": spec.text_column}),
        pip_requirements=pyfunc.pinned_requirements(),
        tags=tags,
    )


def register_classifier(folder: Path, name: str = DEFAULT_REGISTERED_CLASSIFIER,
                        alias: str = "champion", experiment: str = EXPLAINERS_EXPERIMENT) -> str:
    """Register a HF classifier folder with ``mlflow.transformers`` and point ``alias`` at it.

    Idempotent: a version already registered from the same folder content (tag
    ``dlexplain.source_identity``) is reused, the first one registered (lowest number): which
    one never depends on what was updated last. Returns the ``models:/name@alias`` URI.
    """
    from dlexplain.explain.model_files import check_classifier

    check_classifier(folder)
    client = MlflowClient()
    digest = folder_digest(folder)
    # the digest read from the run too: a version's tags are anyone's with EDIT on the model,
    # a run's in the trusted experiment only the pipeline's
    found = [v for v in own_versions(client.search_model_versions(
                 where({"name": name, tag(TAG_FOLDER_DIGEST): digest})))
             if client.get_run(v.run_id).data.tags.get(TAG_FOLDER_DIGEST) == digest]
    if found:
        version = str(min(int(v.version) for v in found))
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


def registered_explainer(registered_model: str, version: str | None = None,
                         alias: str | None = None) -> ExplainerRef | None:
    """Version ``version``, or the one ``alias`` points at, or else the newest version of
    ``registered_model`` (None when it has none)."""
    client = MlflowClient()
    if version or alias:
        try:
            found = (client.get_model_version_by_alias(registered_model, alias) if alias
                     else client.get_model_version(registered_model, version))
        except MlflowException as err:
            raise ModelError(f"no explainer {registered_model} "
                             f"{'@' + alias if alias else 'version ' + str(version)}: "
                             f"{err.message}") from err
        return _ref(registered_model, found)
    versions = client.search_model_versions(where({"name": registered_model}))
    return _ref(registered_model, max(versions, key=lambda v: int(v.version))) if versions else None


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
    matching = [v for v in own_versions(client.search_model_versions(where({"name": name})))
                if client.get_run(v.run_id).data.tags.get(TAG_SOURCE_KEY) == source.key]
    return _ref(name, max(matching, key=lambda v: int(v.version))) if matching else None


def _ref(registered_model: str, version) -> ExplainerRef:
    params = MlflowClient().get_run(version.run_id).data.params
    return ExplainerRef(run_id=version.run_id,
                        model_uri=f"models:/{registered_model}/{version.version}",
                        text_column=params.get("text_column", "text"),
                        registered_model=registered_model, version=str(version.version))


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
