"""Is a logged explainer safe to load? Checked from its files, without loading it.

Loading a models-from-code pyfunc runs its code, and loading a pickled one runs whatever the
pickle says: anyone who can write to the registry could run code wherever an explainer is
loaded. :func:`untrusted` says why an explainer must not be served or loaded, from what can be
read without executing anything: the registered version is READY, its run FINISHED and tagged as
an explainer, its ``MLmodel`` names the code-model loader and our entry file (no pickled python
model), its code is exactly the installed dlexplain package, and no artifact is in a format
that unpickles.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dlexplain.errors import DlexplainError

if TYPE_CHECKING:  # the module stays light: DAG files read NO_PICKLE at parse time
    from dlexplain.tracking.registry import ExplainerRef

logger = logging.getLogger(__name__)

#: The only pyfunc loader we serve: models-from-code (``mlflow.pyfunc.log_model(python_model=
#: "<file>")``); the pickled ``mlflow.pyfunc.model`` loader is refused.
CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"
#: The environment variable and value that stop MLflow from unpickling anything it loads; set in
#: every scoring server, Spark job and stack service.
NO_PICKLE = ("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
#: Artifact suffixes that unpickle on load (torch.load, joblib, pickle).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth", ".ckpt", ".joblib")


class UntrustedExplainer(DlexplainError):
    """A logged explainer that must not be loaded (its files say why)."""


def code_digest(folder: Path) -> str:
    """SHA-256 of a package folder: every file's relative path and bytes (``__pycache__``
    skipped: it is rebuilt from the sources)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()
                       and "__pycache__" not in p.relative_to(folder).parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def untrusted(ref: ExplainerRef) -> str | None:
    """Why ``ref`` must not be loaded, or None when its files are what this package logs."""
    import yaml
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from dlexplain.tracking.fast_runs import KIND_FAST
    from dlexplain.tracking.pyfunc import ENTRY_FILE, PACKAGE_DIR
    from dlexplain.tracking.runs import KIND_EXPLAINER, TAG_KIND

    client = MlflowClient()
    if ref.registered_model and ref.version:
        status = client.get_model_version(ref.registered_model, ref.version).status
        if status != "READY":
            return f"version {ref.version} of {ref.registered_model} is {status}, not READY"
    run = client.get_run(ref.run_id)
    if run.info.status != "FINISHED":
        return f"its run {ref.run_id} is {run.info.status}, not FINISHED"
    if run.data.tags.get(TAG_KIND) not in (KIND_EXPLAINER, KIND_FAST):
        return f"its run {ref.run_id} is not tagged {TAG_KIND}={KIND_EXPLAINER} or {KIND_FAST}"
    # the model's own repository: "<model_uri>/<path>" is no URI for a logged model (models:/<id>)
    model = get_artifact_repository(ref.model_uri)
    with tempfile.TemporaryDirectory(prefix="dlexplain-trust-") as tmp:
        mlmodel = yaml.safe_load(Path(model.download_artifacts("MLmodel", tmp)).read_text())
        flavor = (mlmodel.get("flavors") or {}).get("python_function") or {}
        if flavor.get("loader_module") != CODE_MODEL_LOADER or "python_model" in flavor:
            return (f"it is not a models-from-code pyfunc (loader "
                    f"{flavor.get('loader_module')!r}; a pickled python model is never loaded)")
        entry = os.path.basename(flavor.get("model_code_path") or "")
        if entry != ENTRY_FILE:
            return f"its model code is {entry!r}, not dlexplain's {ENTRY_FILE}"
        listed = _files(model)
        pickles = [p for p in listed if p.lower().endswith(PICKLE_SUFFIXES)]
        if pickles:
            return f"it holds files that unpickle on load: {pickles[:5]}"
        code = Path(model.download_artifacts(flavor.get("code") or "code", tmp))
        if sorted(p.name for p in code.iterdir()) != ["dlexplain"]:
            return f"its code holds {sorted(p.name for p in code.iterdir())}, not dlexplain alone"
        entry_bytes = Path(model.download_artifacts(entry, tmp)).read_bytes()
        if (entry_bytes != (PACKAGE_DIR / "tracking" / ENTRY_FILE).read_bytes()
                or code_digest(code / "dlexplain") != code_digest(PACKAGE_DIR)):
            return ("its code differs from the installed dlexplain package (logged by another "
                    "version, or altered): log the explainer again with this version")
    return None


def check_trusted(ref: ExplainerRef) -> None:
    """Raise :class:`UntrustedExplainer` when ``ref`` must not be loaded (see :func:`untrusted`)."""
    reason = untrusted(ref)
    if reason:
        raise UntrustedExplainer(f"untrusted explainer {ref.registered_model or ''} version "
                                 f"{ref.version} (run {ref.run_id}): {reason}")
    logger.info("explainer run %s: trusted (its code is this dlexplain's)", ref.run_id)


def _files(model, folder: str = "") -> list[str]:
    """Every file path in the artifact repository ``model`` (listed, not downloaded)."""
    found = []
    for item in model.list_artifacts(folder or None):
        name = item.path.rstrip("/").rsplit("/", 1)[-1]
        path = f"{folder}/{name}" if folder else name
        found.extend(_files(model, path) if item.is_dir else [path])
    return found
