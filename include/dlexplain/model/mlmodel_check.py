"""The explainer's ``MLmodel`` and ``model_config`` against what ``log_explainer`` writes: the
keys MLflow's loader follows (``loader_module``, ``code``, artifact paths) are checked first."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from dlexplain.errors import DlexplainError

#: The environment files MLflow writes (read only by ``--env-manager``, never executed here).
ENV_FILES = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


_HEX = re.compile(r"^[0-9a-f]+$")


#: What ``saved_input_example_info`` says when we log (MLflow opens the files it names).
INPUT_EXAMPLE_INFO = {
    "artifact_path": "input_example.json",
    "pandas_orient": "split",
    "serving_input_path": "serving_input_example.json",
    "type": "dataframe",
}

#: The only pyfunc loader we serve: models-from-code (``mlflow.pyfunc.log_model(python_model=
#: "<file>")``); the pickled ``mlflow.pyfunc.model`` loader is refused.
CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"


#: Top-level ``MLmodel`` keys MLflow writes for our explainers (none of them is followed to code).
MLMODEL_KEYS = frozenset(
    {
        "artifact_path",
        "flavors",
        "is_signature_from_type_hint",
        "mlflow_version",
        "model_id",
        "model_size_bytes",
        "model_uuid",
        "prompts",
        "run_id",
        "saved_input_example_info",
        "signature",
        "type_hint_from_example",
        "utc_time_created",
    }
)


#: Keys of the ``python_function`` flavor of a models-from-code pyfunc (no ``data``,
#: ``python_model``, ``predict_fn``...).
PYFUNC_KEYS = frozenset(
    {
        "artifacts",
        "cloudpickle_version",
        "code",
        "config",
        "env",
        "loader_module",
        "model_code_path",
        "python_version",
        "streamable",
    }
)


def mlmodel_problem(mlmodel: object, folder: Path) -> tuple[str | None, dict]:
    """(why ``MLmodel`` is not what we log, or None; the artifact folders by key)."""
    from dlexplain.model.pyfunc import ARTIFACT_CLASSIFIER, ARTIFACT_FAST, ENTRY_FILE

    if not isinstance(mlmodel, dict):
        return "its MLmodel is not a mapping", {}
    extra = sorted(set(mlmodel) - MLMODEL_KEYS)
    if extra:
        return f"its MLmodel has keys dlexplain never writes: {extra}", {}
    if mlmodel.get("prompts") is not None:
        return "its MLmodel names prompts", {}
    if mlmodel.get("saved_input_example_info", INPUT_EXAMPLE_INFO) != INPUT_EXAMPLE_INFO:
        return (
            f"its saved_input_example_info is {mlmodel.get('saved_input_example_info')!r}, "
            f"not {INPUT_EXAMPLE_INFO}"
        ), {}
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict) or set(flavors) != {"python_function"}:
        return (
            f"its flavors are {sorted(flavors) if isinstance(flavors, dict) else flavors!r}, "
            "not python_function alone"
        ), {}
    flavor = flavors["python_function"]
    if not isinstance(flavor, dict):
        return "its python_function flavor is not a mapping", {}
    if flavor.get("loader_module") != CODE_MODEL_LOADER or "python_model" in flavor:
        return (
            f"it is not a models-from-code pyfunc (loader {flavor.get('loader_module')!r}; "
            "a pickled python model is never loaded)"
        ), {}
    extra = sorted(set(flavor) - PYFUNC_KEYS)
    if extra:
        return (
            f"its python_function flavor has keys dlexplain never writes: {extra} (a data "
            "folder or another model's code is never loaded)"
        ), {}
    code_path = flavor.get("model_code_path")
    if not isinstance(code_path, str) or os.path.basename(code_path) != ENTRY_FILE:
        return f"its model code is {code_path!r}, not dlexplain's {ENTRY_FILE}", {}
    if flavor.get("code") != "code":
        return f"its code folder is {flavor.get('code')!r}, not 'code'", {}
    if flavor.get("env", ENV_FILES) != ENV_FILES:
        return f"its env is {flavor.get('env')!r}, not {ENV_FILES}", {}
    problem = model_config_problem(flavor.get("config"))
    if problem:
        return problem, {}
    artifacts = flavor.get("artifacts")
    if (
        not isinstance(artifacts, dict)
        or ARTIFACT_CLASSIFIER not in artifacts
        or set(artifacts) - {ARTIFACT_CLASSIFIER, ARTIFACT_FAST}
    ):
        return (
            f"its artifacts are {sorted(artifacts) if isinstance(artifacts, dict) else None}, "
            f"not {ARTIFACT_CLASSIFIER!r} (and {ARTIFACT_FAST!r})"
        ), {}
    folders = {}
    for key, spec in artifacts.items():
        path = spec.get("path") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or set(spec) - {"path", "uri"} or not isinstance(path, str):
            return f"its artifact {key!r} is {spec!r}, not a path", {}
        pure = PurePosixPath(path)
        if (
            pure.is_absolute()
            or ".." in pure.parts
            or len(pure.parts) < 2
            or pure.parts[0] != "artifacts"
            or "\\" in path
        ):
            return f"its artifact {key!r} lies at {path!r}, outside the model's artifacts/", {}
        if not (folder / pure).is_dir():
            return f"its artifact {key!r} ({path!r}) is not a folder of the model", {}
        folders[key] = pure.as_posix()
    if len(set(folders.values())) != len(folders) or any(
        a != b and (a + "/").startswith(b + "/") for a in folders.values() for b in folders.values()
    ):
        return f"its artifact folders overlap: {sorted(folders.values())}", {}
    return None, folders


def model_config_problem(config: object) -> str | None:
    """Why the flavor's ``model_config`` is not what ``log_explainer_model`` writes, or None."""
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.model.pyfunc import (
        CONFIG_EXPLAINER,
        CONFIG_IDENTITY,
        CONFIG_RUN_ID,
        CONFIG_TEXT_COLUMN,
    )

    keys = {CONFIG_EXPLAINER, CONFIG_TEXT_COLUMN, CONFIG_RUN_ID, CONFIG_IDENTITY}
    if not isinstance(config, dict) or set(config) != keys:
        return (
            f"its model_config has keys {sorted(config) if isinstance(config, dict) else None}"
            f", not {sorted(keys)}"
        )
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
