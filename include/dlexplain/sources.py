"""Source models: a local Hugging Face folder or an MLflow transformers model URI.

Each resolves to a local folder (model + tokenizer) and a stable ``identity``: the content digest
of a folder, or the registered version an alias points at, so that the same model explained with
the same settings is recognised however it was named.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from dlexplain.errors import ModelError

logger = logging.getLogger(__name__)

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_MLFLOW_SCHEMES = ("models:/", "runs:/")


@dataclass(frozen=True)
class SourceModel:
    """A classifier to explain: what the user named, a stable identity, and a local folder."""

    uri: str
    identity: str
    folder: Path
    registered_name: str | None = None
    registered_version: str | None = None


def folder_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of every file in ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def is_mlflow_uri(source: str | Path) -> bool:
    return str(source).startswith(_MLFLOW_SCHEMES)


def resolve_source(source: str | Path, workdir: Path) -> SourceModel:
    """Resolve ``source``; MLflow models are materialised as a HF folder under ``workdir``."""
    if not is_mlflow_uri(source):
        folder = Path(source).expanduser().resolve()
        if not (folder / "config.json").is_file():
            raise ModelError(f"source model {str(source)!r} is neither an MLflow model URI "
                             "(models:/…, runs:/…) nor a Hugging Face folder with config.json")
        return SourceModel(uri=str(folder), identity=folder_digest(folder), folder=folder)
    uri = str(source)
    name, version = _registered_version(uri)
    identity = f"models:/{name}/{version}" if version else uri
    folder = workdir / "source-model"
    _materialise(identity, folder)
    return SourceModel(uri=uri, identity=identity, folder=folder, registered_name=name,
                       registered_version=version)


def _registered_version(uri: str) -> tuple[str | None, str | None]:
    """(name, version) of a ``models:/name@alias`` or ``models:/name/N`` URI, else (None, None)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if not match:
        return None, None
    name, alias = match["name"], match["alias"]
    if not alias:
        return name, match["version"]
    try:
        return name, MlflowClient().get_model_version_by_alias(name, alias).version
    except MlflowException as err:
        raise ModelError(f"cannot resolve {uri!r}: {err.message}") from err


def _materialise(uri: str, folder: Path) -> None:
    """Save the model and tokenizer of an MLflow transformers model into ``folder``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        components = mlflow.transformers.load_model(uri, return_type="components")
    except (MlflowException, OSError) as err:
        raise ModelError(f"cannot load MLflow transformers model {uri!r}: {err}") from err
    if "tokenizer" not in components:
        raise ModelError(f"MLflow model {uri!r} has no tokenizer; log it with one")
    components["model"].save_pretrained(folder)
    components["tokenizer"].save_pretrained(folder)
    logger.info("materialised %s into %s", uri, folder)
