"""The classifier a run names (``source_model``): where to read it, and its registered URI."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from dlexplain.config import Settings
from dlexplain.model import pyfunc
from dlexplain.model.registry import TAG_FOLDER_DIGEST
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.provenance import own_versions
from dlexplain.tracking.runs import (
    EXPLAINERS_EXPERIMENT,
    KIND_CLASSIFIER,
    TAG_KIND,
    experiment_id,
)
from dlexplain.tracking.sources import (
    folder_digest,
)

logger = logging.getLogger(__name__)

#: The ``source_model`` that names the embedded default model.
DEFAULT_SOURCE = "default"


def source_location(source: str, settings: Settings) -> str:
    """Where ``source`` can be read without registering anything (``default``: the folder)."""
    if source != DEFAULT_SOURCE:
        return source
    from dlexplain.defaults import build_default_model

    return str(build_default_model(settings.paths.cache_dir).path)


def resolve_source_model(source: str, settings: Settings) -> str:
    """``default`` → the embedded model, registered as ``sentiment-classifier@champion``."""
    if source != DEFAULT_SOURCE:
        return source
    from dlexplain.model.source_model import register_classifier

    return register_classifier(Path(source_location(source, settings)))


DEFAULT_REGISTERED_CLASSIFIER = "sentiment-classifier"


def register_classifier(
    folder: Path,
    name: str = DEFAULT_REGISTERED_CLASSIFIER,
    alias: str = "champion",
    experiment: str = EXPLAINERS_EXPERIMENT,
) -> str:
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
    found = [
        v
        for v in own_versions(
            client.search_model_versions(where({"name": name, tag(TAG_FOLDER_DIGEST): digest}))
        )
        if client.get_run(v.run_id).data.tags.get(TAG_FOLDER_DIGEST) == digest
    ]
    if found:
        version = str(min(int(v.version) for v in found))
    else:
        from dlexplain.explain.classifier import TextClassifier

        classifier = TextClassifier.from_pretrained(folder, device="cpu")
        tags = {TAG_KIND: KIND_CLASSIFIER, TAG_FOLDER_DIGEST: digest}
        with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags):
            info = mlflow.transformers.log_model(
                transformers_model={"model": classifier.model, "tokenizer": classifier.tokenizer},
                name="classifier",
                task="text-classification",
                registered_model_name=name,
                pip_requirements=pyfunc.pinned_requirements(),
            )
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, TAG_FOLDER_DIGEST, digest)
    client.set_registered_model_alias(name, alias, version)
    logger.info(
        "classifier %s registered as %s version %s (alias %s)", folder, name, version, alias
    )
    return f"models:/{name}@{alias}"
