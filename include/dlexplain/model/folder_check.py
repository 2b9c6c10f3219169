"""The allow-list a downloaded explainer folder is checked against (:func:`folder_problem`):
exactly what ``log_explainer`` writes, and nothing in it is executed while checking."""

from __future__ import annotations

import re
from pathlib import Path

from dlexplain.errors import ModelError
from dlexplain.model.mlmodel_check import ENV_FILES, mlmodel_problem

#: Files at the model folder's root besides the entry file.
ROOT_FILES = frozenset(
    {
        "MLmodel",
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "input_example.json",
        "serving_input_example.json",
        "registered_model_meta",
    }
)


#: Files of a fast explainer's network (``dlexplain.fast.model``): head, meta, encoder folder.
FAST_FILES = frozenset(
    {"fast.json", "head.safetensors", "encoder/config.json", "encoder/model.safetensors"}
)


#: A pinned requirement, as ``pyfunc.pinned_requirements`` writes it (MLflow's loader follows
#: ``-r`` and ``-c`` lines to any file, and imports names it cannot find installed).
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==[A-Za-z0-9_.+!-]+$")


def _root_file_problem(folder: Path, name: str) -> str | None:
    """Why a root file MLflow reads is not what it writes for our explainers, or None:
    ``requirements.txt`` pins our distributions and nothing else, the env files require exactly
    those, JSON files parse."""
    import yaml

    from dlexplain.explain.model_files import read_json
    from dlexplain.model.pyfunc import PINNED_DISTRIBUTIONS

    path = folder / name
    if name.endswith(".json"):
        read_json(path)
    elif name == "requirements.txt":
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        bad = [
            line
            for line in lines
            if not (pin := _PIN.match(line)) or pin["name"] not in PINNED_DISTRIBUTIONS
        ]
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
            requirements = folder / "requirements.txt"
            pinned = requirements.read_text().split() if requirements.is_file() else None
            if len(pip) != 1 or pip[0] != pinned:
                return f"its {name} pip requirements are not those of its requirements.txt"
    return None


def folder_problem(folder: Path, run_id: str | None = None) -> str | None:
    """Why the downloaded explainer ``folder`` must not be loaded, or None when it holds exactly
    what ``log_explainer`` writes (see the module's docstring), into run ``run_id`` when given;
    nothing in it is executed."""
    import yaml

    from dlexplain.explain.model_files import CLASSIFIER_FILES, check_config, check_file, walk_files
    from dlexplain.model.identity import PACKAGE_DIR, package_files
    from dlexplain.model.pyfunc import ARTIFACT_CLASSIFIER, CONFIG_RUN_ID, ENTRY_FILE

    folder = Path(folder)
    try:
        files = walk_files(folder)
        if "MLmodel" not in files:
            return "it has no MLmodel"
        try:
            mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            return f"its MLmodel is not YAML: {err}"
        problem, artifacts = mlmodel_problem(mlmodel, folder)
        if problem:
            return problem
        installed = package_files(PACKAGE_DIR)
        entry = (PACKAGE_DIR / "model" / ENTRY_FILE).read_bytes()
        code: dict[str, str] = {}  # package file -> its path in the folder
        others: list[str] = []  # files on no allow-list
        contents: list[str] = []  # the artifacts' allowed files
        for name in files:
            owner = next(
                (key for key, path in artifacts.items() if name.startswith(path + "/")), None
            )
            if owner is not None:
                inner = name[len(artifacts[owner]) + 1 :]
                allowed = (
                    inner in CLASSIFIER_FILES
                    if owner == ARTIFACT_CLASSIFIER
                    else inner in FAST_FILES
                )
                (contents if allowed else others).append(name)
            elif name.startswith("code/dlexplain/"):
                code[name.removeprefix("code/dlexplain/")] = name
            elif name == ENTRY_FILE:
                if (folder / name).read_bytes() != entry:
                    return (
                        f"its code differs from the installed dlexplain package ({ENTRY_FILE}"
                        " logged by another version, or altered): log the explainer again"
                    )
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
            (folder / path).read_bytes() != installed[name] for name, path in code.items()
        ):
            changed = sorted(set(code) ^ set(installed)) or sorted(
                name
                for name, path in code.items()
                if (folder / path).read_bytes() != installed[name]
            )
            return (
                "its code differs from the installed dlexplain package (logged by another "
                f"version, or altered: {changed[:5]}): log the explainer again with this "
                "version"
            )
        for key, path in artifacts.items():  # the fast network's encoder is a config too
            check_config(folder / path if key == ARTIFACT_CLASSIFIER else folder / path / "encoder")
        logged = mlmodel["flavors"]["python_function"]["config"][CONFIG_RUN_ID]
        if run_id is not None and logged != run_id:
            return f"its model_config names run {logged}, not the run {run_id} that logged it"
    except (ModelError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        return str(err) or type(err).__name__
    return None
