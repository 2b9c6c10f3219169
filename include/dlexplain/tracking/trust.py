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
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dlexplain.errors import DlexplainError, ModelError

if TYPE_CHECKING:  # the module stays light: DAG files read NO_PICKLE at parse time
    from dlexplain.tracking.registry import ExplainerRef

logger = logging.getLogger(__name__)

#: The only pyfunc loader we serve: models-from-code (``mlflow.pyfunc.log_model(python_model=
#: "<file>")``); the pickled ``mlflow.pyfunc.model`` loader is refused.
CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"
#: The environment variable and value that stop MLflow from unpickling anything it loads; set in
#: every scoring server, Spark job and stack service.
NO_PICKLE = ("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")

#: Top-level ``MLmodel`` keys MLflow writes for our explainers (none of them is followed to code).
MLMODEL_KEYS = frozenset({
    "artifact_path", "flavors", "is_signature_from_type_hint", "mlflow_version", "model_id",
    "model_size_bytes", "model_uuid", "prompts", "run_id", "saved_input_example_info",
    "signature", "type_hint_from_example", "utc_time_created"})
#: Keys of the ``python_function`` flavor of a models-from-code pyfunc (no ``data``,
#: ``python_model``, ``predict_fn``...).
PYFUNC_KEYS = frozenset({"artifacts", "cloudpickle_version", "code", "config", "env",
                         "loader_module", "model_code_path", "python_version", "streamable"})
#: The environment files MLflow writes (read only by ``--env-manager``, never executed here).
ENV_FILES = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
#: Files at the model folder's root besides the entry file.
ROOT_FILES = frozenset({"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt",
                        "input_example.json", "serving_input_example.json",
                        "registered_model_meta"})
#: Files of a fast explainer's network (``dlexplain.fast.model``): head, meta, encoder folder.
FAST_FILES = frozenset({"fast.json", "head.safetensors", "encoder/config.json",
                        "encoder/model.safetensors"})
_HEX = re.compile(r"^[0-9a-f]+$")


class UntrustedExplainer(DlexplainError):
    """A logged explainer that must not be loaded (its files say why)."""


def metadata_problem(ref: ExplainerRef) -> str | None:
    """Why ``ref`` must not be loaded, from the registry alone (version READY and the
    pipeline's own, run FINISHED and tagged as an explainer), or None."""
    from mlflow import MlflowClient

    from dlexplain.tracking.provenance import uri_problem, version_problem
    from dlexplain.tracking.runs import KIND_EXPLAINER, KIND_FAST, TAG_KIND

    client = MlflowClient()
    registered = bool(ref.registered_model and ref.version)
    if registered:
        version = client.get_model_version(ref.registered_model, ref.version)
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
    return None if registered else uri_problem(ref.model_uri, run)


#: What ``saved_input_example_info`` says when we log (MLflow opens the files it names).
INPUT_EXAMPLE_INFO = {"artifact_path": "input_example.json", "pandas_orient": "split",
                      "serving_input_path": "serving_input_example.json", "type": "dataframe"}
#: A pinned requirement, as ``pyfunc.pinned_requirements`` writes it (MLflow's loader follows
#: ``-r`` and ``-c`` lines to any file, and imports names it cannot find installed).
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==[A-Za-z0-9_.+!-]+$")


def _root_file_problem(folder: Path, name: str) -> str | None:
    """Why a root file MLflow reads is not what it writes for our explainers, or None:
    ``requirements.txt`` pins our distributions and nothing else, the env files require exactly
    those, JSON files parse."""
    import yaml

    from dlexplain.explain.model_files import read_json
    from dlexplain.tracking.pyfunc import PINNED_DISTRIBUTIONS

    path = folder / name
    if name.endswith(".json"):
        read_json(path)
    elif name == "requirements.txt":
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        bad = [line for line in lines if not _PIN.match(line)
               or _PIN.match(line)["name"] not in PINNED_DISTRIBUTIONS]
        if bad:
            return f"its requirements.txt has lines dlexplain never writes: {bad[:3]}"
    elif name in ENV_FILES.values():
        env = yaml.safe_load(path.read_text())
        if not isinstance(env, dict):
            return f"its {name} is not a mapping"
        if name == "python_env.yaml" and env.get("dependencies") != ["-r requirements.txt"]:
            return f"its {name} requires {env.get('dependencies')!r}, not requirements.txt"
        if name == "conda.yaml":
            pip = [d["pip"] for d in env.get("dependencies") or [] if isinstance(d, dict)]
            requirements = (folder / "requirements.txt")
            pinned = (requirements.read_text().split() if requirements.is_file() else None)
            if len(pip) != 1 or pip[0] != pinned:
                return f"its {name} pip requirements are not those of its requirements.txt"
    return None


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


def _mlmodel_problem(mlmodel: object, folder: Path) -> tuple[str | None, dict]:
    """(why ``MLmodel`` is not what we log, or None; the artifact folders by key)."""
    from dlexplain.tracking.pyfunc import ARTIFACT_CLASSIFIER, ARTIFACT_FAST, ENTRY_FILE

    if not isinstance(mlmodel, dict):
        return "its MLmodel is not a mapping", {}
    extra = sorted(set(mlmodel) - MLMODEL_KEYS)
    if extra:
        return f"its MLmodel has keys dlexplain never writes: {extra}", {}
    if mlmodel.get("prompts") is not None:
        return "its MLmodel names prompts", {}
    if mlmodel.get("saved_input_example_info", INPUT_EXAMPLE_INFO) != INPUT_EXAMPLE_INFO:
        return (f"its saved_input_example_info is {mlmodel.get('saved_input_example_info')!r}, "
                f"not {INPUT_EXAMPLE_INFO}"), {}
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict) or set(flavors) != {"python_function"}:
        return (f"its flavors are {sorted(flavors) if isinstance(flavors, dict) else flavors!r}, "
                "not python_function alone"), {}
    flavor = flavors["python_function"]
    if not isinstance(flavor, dict):
        return "its python_function flavor is not a mapping", {}
    if flavor.get("loader_module") != CODE_MODEL_LOADER or "python_model" in flavor:
        return (f"it is not a models-from-code pyfunc (loader {flavor.get('loader_module')!r}; "
                "a pickled python model is never loaded)"), {}
    extra = sorted(set(flavor) - PYFUNC_KEYS)
    if extra:
        return (f"its python_function flavor has keys dlexplain never writes: {extra} (a data "
                "folder or another model's code is never loaded)"), {}
    code_path = flavor.get("model_code_path")
    if not isinstance(code_path, str) or os.path.basename(code_path) != ENTRY_FILE:
        return f"its model code is {code_path!r}, not dlexplain's {ENTRY_FILE}", {}
    if flavor.get("code") != "code":
        return f"its code folder is {flavor.get('code')!r}, not 'code'", {}
    if flavor.get("env", ENV_FILES) != ENV_FILES:
        return f"its env is {flavor.get('env')!r}, not {ENV_FILES}", {}
    problem = _model_config_problem(flavor.get("config"))
    if problem:
        return problem, {}
    artifacts = flavor.get("artifacts")
    if not isinstance(artifacts, dict) or ARTIFACT_CLASSIFIER not in artifacts or \
            set(artifacts) - {ARTIFACT_CLASSIFIER, ARTIFACT_FAST}:
        return (f"its artifacts are {sorted(artifacts) if isinstance(artifacts, dict) else None}, "
                f"not {ARTIFACT_CLASSIFIER!r} (and {ARTIFACT_FAST!r})"), {}
    folders = {}
    for key, spec in artifacts.items():
        path = spec.get("path") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or set(spec) - {"path", "uri"} or not isinstance(path, str):
            return f"its artifact {key!r} is {spec!r}, not a path", {}
        pure = PurePosixPath(path)
        if (pure.is_absolute() or ".." in pure.parts or len(pure.parts) < 2
                or pure.parts[0] != "artifacts" or "\\" in path):
            return f"its artifact {key!r} lies at {path!r}, outside the model's artifacts/", {}
        if not (folder / pure).is_dir():
            return f"its artifact {key!r} ({path!r}) is not a folder of the model", {}
        folders[key] = pure.as_posix()
    if len(set(folders.values())) != len(folders) or any(
            a != b and (a + "/").startswith(b + "/") for a in folders.values()
            for b in folders.values()):
        return f"its artifact folders overlap: {sorted(folders.values())}", {}
    return None, folders


def _model_config_problem(config: object) -> str | None:
    """Why the flavor's ``model_config`` is not what ``log_explainer_model`` writes, or None."""
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.tracking.pyfunc import (CONFIG_EXPLAINER, CONFIG_IDENTITY, CONFIG_RUN_ID,
                                           CONFIG_TEXT_COLUMN)

    keys = {CONFIG_EXPLAINER, CONFIG_TEXT_COLUMN, CONFIG_RUN_ID, CONFIG_IDENTITY}
    if not isinstance(config, dict) or set(config) != keys:
        return (f"its model_config has keys {sorted(config) if isinstance(config, dict) else None}"
                f", not {sorted(keys)}")
    for key, length in ((CONFIG_RUN_ID, 32), (CONFIG_IDENTITY, 64)):
        value = config[key]
        if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
            return f"its model_config {key} is {value!r}, not a hex id"
    if not isinstance(config[CONFIG_TEXT_COLUMN], str) or not config[CONFIG_TEXT_COLUMN]:
        return f"its model_config text_column is {config[CONFIG_TEXT_COLUMN]!r}"
    explainer = config[CONFIG_EXPLAINER]
    try:
        if not isinstance(explainer, dict):
            raise TypeError("not a mapping")
        ExplainerConfig(**explainer)
    except (TypeError, DlexplainError) as err:
        return f"its model_config explainer is refused: {err}"
    return None


def folder_problem(folder: Path, run_id: str | None = None) -> str | None:
    """Why the downloaded explainer ``folder`` must not be loaded, or None when it holds exactly
    what ``log_explainer`` writes (see the module's docstring), into run ``run_id`` when given;
    nothing in it is executed."""
    import yaml

    from dlexplain.explain.model_files import (CLASSIFIER_FILES, check_config, check_file,
                                               walk_files)
    from dlexplain.tracking.pyfunc import (ARTIFACT_CLASSIFIER, CONFIG_RUN_ID, ENTRY_FILE,
                                           PACKAGE_DIR, package_files)

    folder = Path(folder)
    try:
        files = walk_files(folder)
        if "MLmodel" not in files:
            return "it has no MLmodel"
        try:
            mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            return f"its MLmodel is not YAML: {err}"
        problem, artifacts = _mlmodel_problem(mlmodel, folder)
        if problem:
            return problem
        installed = package_files(PACKAGE_DIR)
        entry = (PACKAGE_DIR / "tracking" / ENTRY_FILE).read_bytes()
        code, others, contents = {}, [], []
        for name in files:
            owner = next((key for key, path in artifacts.items()
                          if name.startswith(path + "/")), None)
            if owner is not None:
                inner = name[len(artifacts[owner]) + 1:]
                allowed = (inner in CLASSIFIER_FILES if owner == ARTIFACT_CLASSIFIER
                           else inner in FAST_FILES)
                (contents if allowed else others).append(name)
            elif name.startswith("code/dlexplain/"):
                code[name.removeprefix("code/dlexplain/")] = name
            elif name == ENTRY_FILE:
                if (folder / name).read_bytes() != entry:
                    return (f"its code differs from the installed dlexplain package ({ENTRY_FILE}"
                            " logged by another version, or altered): log the explainer again")
            elif name in ROOT_FILES:
                problem = _root_file_problem(folder, name)
                if problem:
                    return problem
            else:
                others.append(name)
        if others:
            return f"it holds files that are not on the allow-list: {others[:5]}"
        for name in contents:  # the allowed artifact files, by their format
            check_file(folder / name)
        if ENTRY_FILE not in files:
            return f"it has no {ENTRY_FILE}"
        if set(code) != set(installed) or any(
                (folder / path).read_bytes() != installed[name] for name, path in code.items()):
            changed = sorted(set(code) ^ set(installed)) or sorted(
                name for name, path in code.items()
                if (folder / path).read_bytes() != installed[name])
            return ("its code differs from the installed dlexplain package (logged by another "
                    f"version, or altered: {changed[:5]}): log the explainer again with this "
                    "version")
        for key, path in artifacts.items():  # the fast network's encoder is a config too
            check_config(folder / path if key == ARTIFACT_CLASSIFIER
                         else folder / path / "encoder")
        logged = mlmodel["flavors"]["python_function"]["config"][CONFIG_RUN_ID]
        if run_id is not None and logged != run_id:
            return f"its model_config names run {logged}, not the run {run_id} that logged it"
    except (ModelError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        return str(err) or type(err).__name__
    return None


def _refuse(ref: ExplainerRef, reason: str) -> UntrustedExplainer:
    named = (f"{ref.registered_model} version {ref.version} " if ref.registered_model else "")
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
