"""Is a logged explainer safe to load? Checked from its files, then loaded from THAT folder.

Loading a models-from-code pyfunc runs its code, and MLflow's loader follows keys of ``MLmodel``
(``data``, ``code``, ``loader_module``, artifact paths) wherever they point: anyone who can write
to the registry could run code wherever an explainer is loaded. So every load of a logged
explainer goes through this module (scoring server, Spark job, fast-explainer training):

1. :func:`metadata_problem`: the registered version is READY, its run FINISHED and tagged as an
   explainer;
2. :func:`download_checked`: the model is downloaded once into a folder of the caller's, and
   :func:`folder_problem` checks that folder against an allow-list of exactly what
   ``log_explainer`` writes: the ``MLmodel`` keys and flavor keys, artifact paths inside the
   folder, ``model_config`` with our keys and types, every file by name and format (our package's
   ``.py`` files equal to the installed ones, safetensors, JSON, tokenizer files); no symlink, no
   ``.pyc``, nothing else;
3. :func:`download_and_load` (or :func:`load_checked` for a folder checked here first):
   ``mlflow.pyfunc.load_model`` on that same local folder, never on a URI (what was checked is
   what is loaded: nobody can swap the files in between).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dlexplain.errors import DlexplainError, ModelError
from dlexplain.model.folder_check import folder_problem

if TYPE_CHECKING:  # the module stays light: DAG files read NO_PICKLE at parse time
    from dlexplain.model.refs import ExplainerRef

logger = logging.getLogger(__name__)

#: The environment variable and value that stop MLflow from unpickling anything it loads; set in
#: every scoring server, Spark job and stack service.
NO_PICKLE = ("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")


class UntrustedExplainer(DlexplainError):
    """A logged explainer that must not be loaded (its files say why)."""


def metadata_problem(ref: ExplainerRef) -> str | None:
    """Why ``ref`` must not be loaded, from the registry alone (version READY and the
    pipeline's own, run FINISHED and tagged as an explainer), or None."""
    from mlflow import MlflowClient

    from dlexplain.tracking.provenance import uri_problem, version_problem
    from dlexplain.tracking.runs import KIND_EXPLAINER, KIND_FAST, TAG_KIND

    client = MlflowClient()
    name, number = ref.registered_model, ref.version  # both set: a registered version
    if name and number:
        version = client.get_model_version(name, number)
        if version.status != "READY":
            return f"version {ref.version} of {ref.registered_model} is {version.status}, not READY"
        if version.run_id != ref.run_id:
            return f"version {ref.version} of {ref.registered_model} is run {version.run_id}'s"
        reason = version_problem(version)
        if reason:
            return reason
    run = client.get_run(ref.run_id)
    if run.info.status != "FINISHED":
        return f"its run {ref.run_id} is {run.info.status}, not FINISHED"
    if run.data.tags.get(TAG_KIND) not in (KIND_EXPLAINER, KIND_FAST):
        return f"its run {ref.run_id} is not tagged {TAG_KIND}={KIND_EXPLAINER} or {KIND_FAST}"
    return None if name and number else uri_problem(ref.model_uri, run)


def _registry_problem(ref: ExplainerRef) -> str | None:
    """:func:`metadata_problem`, with a registry that does not know ``ref`` a reason too (a
    server away stays an error a retry may heal)."""
    from mlflow.exceptions import MlflowException

    from dlexplain.tracking.sources import is_deterministic

    try:
        return metadata_problem(ref)
    except MlflowException as err:
        if not is_deterministic(err):
            raise
        return f"the registry cannot say what it is: {err.message}"


def _refuse(ref: ExplainerRef, reason: str) -> UntrustedExplainer:
    named = f"{ref.registered_model} version {ref.version} " if ref.registered_model else ""
    return UntrustedExplainer(f"untrusted explainer {named}(run {ref.run_id}): {reason}")


def download_checked(ref: ExplainerRef, dst: str | Path) -> Path:
    """Download ``ref``'s model into the (new, empty or missing) folder ``dst``, check its
    registry entry and that folder; the folder, or :class:`UntrustedExplainer`."""
    import mlflow

    reason = _registry_problem(ref)
    if reason:
        raise _refuse(ref, reason)
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    if any(dst.iterdir()):
        raise ModelError(f"{str(dst)!r} is not empty: an explainer is downloaded into a new folder")
    # a models:/ URI downloads into dst itself, a runs:/ URI into dst/<artifact path>
    local = Path(mlflow.artifacts.download_artifacts(ref.model_uri, dst_path=str(dst)))
    check_folder(local, ref)
    return local


def check_folder(folder: Path, ref: ExplainerRef | None = None) -> None:
    """Raise :class:`UntrustedExplainer` when the local explainer ``folder`` is not exactly what
    ``log_explainer`` writes (:func:`folder_problem`), or, given the ``ref`` it was downloaded
    for, its ``model_config`` names another run."""
    reason = folder_problem(folder, ref.run_id if ref is not None else None)
    if reason:
        if ref is None:
            raise UntrustedExplainer(f"untrusted explainer folder {str(folder)!r}: {reason}")
        raise _refuse(ref, reason)


def load_checked(folder: Path, ref: ExplainerRef | None = None):
    """The pyfunc explainer of the local ``folder``, loaded only after :func:`check_folder`
    passes on it (with MLflow unpickling nothing)."""
    check_folder(folder, ref)
    return _load(folder)


def download_and_load(ref: ExplainerRef, dst: str | Path):
    """The pyfunc explainer of ``ref``: :func:`download_checked` into ``dst``, then that same
    folder loaded (checked once)."""
    return _load(download_checked(ref, dst))


def _load(folder: Path):
    """``mlflow.pyfunc.load_model`` of a folder that passed :func:`check_folder`."""
    import mlflow

    os.environ[NO_PICKLE[0]] = NO_PICKLE[1]
    # no dependency check: it would follow requirements lines and import what they name
    return mlflow.pyfunc.load_model(str(folder), suppress_warnings=True)


def untrusted(ref: ExplainerRef) -> str | None:
    """Why ``ref`` must not be loaded (its registry entry, then a checked download into a
    temporary folder), or None when its files are what this package logs."""
    reason = _registry_problem(ref)
    if reason:
        return reason
    with tempfile.TemporaryDirectory(prefix="dlexplain-trust-") as tmp:
        import mlflow

        folder = Path(mlflow.artifacts.download_artifacts(ref.model_uri, dst_path=tmp))
        return folder_problem(folder, ref.run_id)


def check_trusted(ref: ExplainerRef) -> None:
    """Raise :class:`UntrustedExplainer` when ``ref`` must not be loaded (see :func:`untrusted`)."""
    reason = untrusted(ref)
    if reason:
        raise _refuse(ref, reason)
    logger.info("explainer run %s: trusted (its files are what this dlexplain logs)", ref.run_id)
