"""Source models: a local Hugging Face folder or an MLflow transformers model URI.

:func:`describe_source` names a source by a stable ``key`` without downloading anything: the
content digest of a local folder, or the registered version an alias points at (with the run
that logged it). :func:`materialise` brings an MLflow model's weights to a local folder, and is
only called when a new explainer is logged.
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
    """A classifier to explain: what the user named, and a key that identifies its weights."""

    uri: str
    #: the same weights always get the same key, however they were named
    key: str
    #: the local folder, for a Hugging Face folder source (MLflow sources: see ``materialise``)
    folder: Path | None = None
    registered_name: str | None = None
    registered_version: str | None = None

    @property
    def loads_from(self) -> str:
        """The URI to download an MLflow source from (a pinned version, never a moving alias)."""
        if self.registered_version:
            return f"models:/{self.registered_name}/{self.registered_version}"
        return self.uri


def folder_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of every file in ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


#: MLflow error codes that say the request itself is wrong (no retry can heal them)
DETERMINISTIC_CODES = frozenset(
    {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "BAD_REQUEST", "NOT_FOUND"}
)


def is_deterministic(err) -> bool:
    """True when an ``MlflowException`` names a wrong request (no such model, bad URI), False
    for a fault that may heal (server away, timeout, internal error)."""
    return getattr(err, "error_code", None) in DETERMINISTIC_CODES


def is_mlflow_uri(source: str | Path) -> bool:
    return str(source).startswith(_MLFLOW_SCHEMES)


def describe_source(source: str | Path) -> SourceModel:
    """The source's key and where it lives; nothing is downloaded."""
    if not is_mlflow_uri(source):
        folder = Path(source).expanduser().resolve()
        if not (folder / "config.json").is_file():
            raise ModelError(
                f"source model {str(source)!r} is neither an MLflow model URI "
                "(models:/…, runs:/…) nor a Hugging Face folder with config.json"
            )
        return SourceModel(uri=str(folder), key=folder_digest(folder), folder=folder)
    uri = str(source)
    match = _MODELS_URI.match(uri)
    if not match:
        return SourceModel(uri=uri, key=uri)  # runs:/<run_id>/<path>: run ids are unique
    name, version, run_id = _registered_version(uri, match)
    return SourceModel(
        uri=uri,
        key=f"models:/{name}/{version} (run {run_id})",
        registered_name=name,
        registered_version=version,
    )


def _registered_version(uri: str, match: re.Match) -> tuple[str, str, str | None]:
    """(name, version, run that logged it) of a ``models:/name@alias`` or ``models:/name/N`` URI."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from dlexplain.tracking.provenance import version_problem

    client, name = MlflowClient(), match["name"]
    try:
        if match["alias"]:
            found = client.get_model_version_by_alias(name, match["alias"])
        else:
            found = client.get_model_version(name, match["version"])
    except MlflowException as err:
        if not is_deterministic(err):
            raise  # the server away: the caller's retries may heal it
        raise ModelError(f"cannot resolve {uri!r}: {err.message}") from err
    reason = version_problem(found)
    if reason:  # e.g. an alias moved to a version another user registered
        raise ModelError(
            f"{uri!r} is version {found.version} of {name}, which is not the pipeline's: {reason}"
        )
    return name, str(found.version), found.run_id or found.source


def source_labels(source: SourceModel) -> tuple[str, ...]:
    """The class names of ``source``, from its ``config.json`` alone (no weights are read);
    :class:`ModelError` when that config cannot be read."""
    import tempfile

    from transformers import AutoConfig

    from dlexplain.explain.classifier import class_labels
    from dlexplain.explain.model_files import ADVICE, check_config

    with tempfile.TemporaryDirectory(prefix="dlexplain-config-") as workdir:
        # a transient MLflow fault in the download propagates as is (retryable)
        folder = source.folder or _download_config(source.loads_from, Path(workdir))
        try:
            check_config(folder)  # no remote code, transformers' own classes: refused here first
            return class_labels(AutoConfig.from_pretrained(folder, trust_remote_code=False))
        except ModelError as err:
            raise ModelError(
                f"cannot read the classifier config of {source.uri!r}: {err}; {ADVICE}"
            ) from None
        except Exception as err:  # transformers: bad JSON, unknown model type, no labels
            raise ModelError(
                f"cannot read the classifier config of {source.uri!r}: {type(err).__name__}: {err}"
            ) from err


def _download_config(uri: str, workdir: Path) -> Path:
    """Download only ``config.json`` of an MLflow transformers model; its folder."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        # MLmodel read from workdir: get_model_info leaves its download in the temp dir
        mlmodel = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{uri}/MLmodel", dst_path=str(workdir)
        )
        flavor = mlflow.models.Model.load(mlmodel).flavors.get("transformers")
        if flavor is None:
            raise ModelError(f"{uri!r} is not an MLflow transformers model")
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{uri}/{flavor.get('model_binary', 'model')}/config.json",
            dst_path=str(workdir),
        )
    except MlflowException as err:
        if not is_deterministic(err):
            raise
        raise ModelError(f"cannot read the config of {uri!r}: {err.message}") from err
    return next(workdir.rglob("config.json")).parent


def materialise(source: SourceModel, workdir: Path) -> Path:
    """A local Hugging Face folder of ``source``: its own folder, or the MLflow transformers
    model's weights and tokenizer files copied under ``workdir`` (the download happens here).

    Nothing is loaded here: MLflow's ``mlflow.transformers.load_model`` would allow remote code
    for a model whose ``instance_type`` is not a transformers class. The folder is then checked
    (:func:`dlexplain.explain.model_files.check_classifier`: no ``auto_map``, no ``.py`` files,
    safetensors weights only) and loaded with transformers' own classes."""
    import shutil

    from dlexplain.explain.model_files import check_classifier, walk_files

    if source.folder is not None:
        check_classifier(source.folder)
        return source.folder
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = source.loads_from
    # downloaded under workdir: by default MLflow leaves the copy in the temp dir (88 MB a night)
    download = workdir / "download"
    download.mkdir()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(download)))
        flavor = mlflow.models.Model.load(str(local)).flavors.get("transformers")
    except (MlflowException, OSError) as err:
        if isinstance(err, MlflowException) and not is_deterministic(err):
            raise
        raise ModelError(f"cannot download MLflow transformers model {uri!r}: {err}") from err
    if flavor is None:
        raise ModelError(f"{uri!r} is not an MLflow transformers model")
    weights = local / str(flavor.get("model_binary") or "model")
    tokenizer = local / "components" / "tokenizer"
    if not tokenizer.is_dir():
        raise ModelError(f"MLflow model {uri!r} has no tokenizer; log it with one")
    folder = workdir / "source-model"
    folder.mkdir()
    for part in (weights, tokenizer):
        if (
            part.is_symlink()
            or not part.is_dir()
            or not part.resolve().is_relative_to(local.resolve())
        ):
            raise ModelError(f"MLflow model {uri!r}: {part.name!r} is not a folder of the model")
        for name in walk_files(part):  # refuses symlinks
            target = folder / name
            if target.exists():
                raise ModelError(
                    f"MLflow model {uri!r}: {name!r} is both in its weights and its tokenizer"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(part / name, target)
    check_classifier(folder)
    logger.info("materialised %s into %s", uri, folder)
    return folder
