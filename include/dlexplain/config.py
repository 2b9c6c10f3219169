"""Settings: one frozen object of sections, read from ``DLEXPLAIN_*`` environment variables.

This is the only module that reads the environment (``stack_env`` checks the compose stack's
own variables, which :func:`environment` hands it). Every variable, its section, type, default
and meaning is declared once below with :func:`setting`; the documentation's configuration table
is generated from these declarations (:func:`settings_table`). Nothing is read at import time:
each process's entry point (the CLI, a DAG file, the Spark job, the pyfunc's ``load_context``)
calls :meth:`Settings.from_env` once and passes the object down.

The explainer's own settings (``DLEXPLAIN_MAX_EVALS``, ``_BATCH_SIZE``, ``_BACKEND``) become an
:class:`~dlexplain.explain.config.ExplainerConfig`, which alone decides what values are valid.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from dlexplain.errors import ConfigError
from dlexplain.explain.config import ExplainerConfig, check_device

#: Where the explanation service (EaaS) runs: local scoring-server processes or Docker containers.
EAAS_BACKENDS = ("process", "docker")


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _optional_path(value: str) -> Path | None:
    return Path(value).expanduser() if value else None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise ValueError(f"must be >= {minimum}")
        return number

    return parse


_positive_int, _count = _int_at_least(1), _int_at_least(0)


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _roots(value: str) -> tuple[str, ...]:
    roots = tuple(part.strip() for part in value.split(",") if part.strip())
    if not roots:
        raise ValueError("must name at least one folder or URI prefix")
    return roots


def _share(value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError("must be between 0 and 1")
    return share


def _switch(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError("must be 'on' or 'off'")
    return value.lower() == "on"


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {choices}")
        return value

    return parse


def _device(value: str) -> str:
    try:
        return check_device(value)
    except ConfigError as err:
        raise ValueError(str(err)) from err


def setting(default: Any, parse: Callable[[str], Any], doc: str, *, env: str,
            shown: str | None = None) -> Any:
    """A settings field read from ``DLEXPLAIN_<env>`` with ``parse``; ``shown`` is the default as
    the documentation states it where it is computed from other settings."""
    return field(default=default, metadata={"parse": parse, "doc": doc, "env": env,
                                            "shown": shown})


def _var(spec: Field) -> str:
    return f"DLEXPLAIN_{spec.metadata['env']}"


@dataclass(frozen=True)
class PathSettings:
    """Where dlexplain keeps things."""

    home: Path = setting(Path(".dlexplain"), _path, "Project-local state: default data, demo "
                         "outputs, server state and logs.", env="HOME")
    cache_dir: Path = setting(None, _path, "Machine-wide cache: the built default model, the "
                              "downloaded IMDb wheel.", env="CACHE_DIR",
                              shown="$XDG_CACHE_HOME/dlexplain (~/.cache/dlexplain)")
    data_dir: Path = setting(None, _path, "Where the default daily review partitions live "
                             "(<data_dir>/reviews/ds=YYYY-MM-DD).", env="DATA_DIR",
                             shown="<home>/data")
    input_roots: tuple[str, ...] = setting((), _roots, "Folders (or URI prefixes, comma-separated)"
                                           " that input partitions must lie under.",
                                           env="INPUT_ROOTS", shown="<data_dir>")
    output_roots: tuple[str, ...] = setting((), _roots, "Folders (or URI prefixes) that outputs "
                                            "must lie under; the job replaces an output folder "
                                            "only when it wrote it.", env="OUTPUT_ROOTS",
                                            shown="<home>/explanations")


@dataclass(frozen=True)
class CacheSettings:
    """The explanation cache: texts already explained by the same explainer are not redone."""

    enabled: bool = setting(True, _switch, "on/off: reuse explanations of texts already "
                            "explained by the same explainer.", env="EXPLANATION_CACHE",
                            shown="on")
    mb: int = setting(1024, _positive_int, "Bound of the explanation cache in MiB; least recently"
                      " used entries are evicted.", env="EXPLANATION_CACHE_MB")
    path: Path = setting(None, _path, "SQLite file of the explanation cache.",
                         env="EXPLANATION_CACHE_PATH", shown="<cache_dir>/explanations.sqlite")


@dataclass(frozen=True)
class RunSettings:
    """What the DAGs explain, with what, and when a night fails."""

    source_model: str = setting("default", _nonempty, "The classifier the DAGs explain unless a "
                                "run's source_model param names another (the param's default, so"
                                " what scheduled runs use): default, an HF folder or an MLflow "
                                "URI.", env="SOURCE_MODEL")
    device: str = setting("auto", _device, "Torch device for the classifier: auto (CUDA when "
                          "present), cpu or cuda.", env="DEVICE")
    trusted_experiment: str = setting("", str, "The experiment explainers are loaded, reused and "
                                      "served from (empty: any). Set it where MLflow has users "
                                      "and only the pipeline's writes it (the stack: "
                                      "dlexplain-explainers).", env="TRUSTED_EXPERIMENT")
    max_failed_share: float = setting(0.5, _share, "The job refuses to publish when a larger "
                                      "share of the rows failed (the old output stays).",
                                      env="MAX_FAILED_SHARE")


@dataclass(frozen=True)
class ScheduleSettings:
    """When the DAGs run and how long their tasks may take."""

    schedule: str = setting("@daily", str, "Schedule of the explain_reviews DAG.", env="SCHEDULE")
    fast_min_new_texts: int = setting(200, _count, "train_fast_explainer trains when this many "
                                      "explained texts are new since the last fast explainer "
                                      "(its min_new_texts param's default).",
                                      env="FAST_MIN_NEW_TEXTS")
    task_timeout: int = setting(1800, _positive_int, "Seconds any DAG task may run (its "
                                "execution_timeout) unless it is a long job.", env="TASK_TIMEOUT")
    job_timeout: int = setting(43200, _positive_int, "Seconds the long jobs may run: batch_explain"
                               " (the Spark job) and train.", env="JOB_TIMEOUT")


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the served explainer (more answers 400, 503 or 504, never a stack trace)."""

    model_uri: str = setting("", str, "The explainer a scoring server started by `dlexplain eaas "
                             "serve` without a model URI serves (set by the backends).",
                             env="SERVE_MODEL_URI")
    max_texts: int = setting(64, _positive_int, "Most texts in one request (more answer 400).",
                             env="SERVE_MAX_TEXTS")
    max_chars: int = setting(20000, _positive_int, "Most characters in one text (longer answer "
                             "400).", env="SERVE_MAX_CHARS")
    max_work: int = setting(200_000, _positive_int, "Most work one request may cost, in tokens x "
                            "model evaluations (more answer 400 before any work; 200,000 is about"
                            " 30 s of the default model on 2 cores).", env="SERVE_MAX_WORK")
    max_in_flight: int = setting(2, _positive_int, "Most requests in flight; more answer 503 at "
                                 "once, with Retry-After.", env="SERVE_MAX_IN_FLIGHT")
    timeout: int = setting(60, _positive_int, "Seconds a request may take (504 after them, and "
                           "its work stops).", env="SERVE_TIMEOUT")


@dataclass(frozen=True)
class EaasSettings:
    """The explanation service that eaas_redeploy keeps serving the newest explainer."""

    classifier: str = setting("models:/sentiment-classifier@champion", str, "What eaas_redeploy "
                              "serves: the explainer of the classifier this URI names now.",
                              env="EAAS_CLASSIFIER")
    backend: str = setting("process", _choice(EAAS_BACKENDS), "Where eaas_redeploy runs the "
                           "served explainer: process or docker.", env="EAAS_BACKEND")
    host: str = setting("127.0.0.1", str, "Interface the served explainer listens on (0.0.0.0 to "
                        "serve other machines).", env="EAAS_HOST")
    mlflow_user: str = setting("", str, "MLflow user of the scoring servers the backends start; "
                               "empty: the starting process's own MLFLOW_TRACKING_USERNAME.",
                               env="EAAS_MLFLOW_USER")
    mlflow_password: str = setting("", str, "That user's password.", env="EAAS_MLFLOW_PASSWORD")
    image: str = setting("dlexplain:latest", str, "Docker backend: image with this package and "
                         "mlflow (the project image).", env="EAAS_IMAGE")
    docker_network: str = setting("bridge", str, "Docker backend: network mode; bridge maps a "
                                  "port, host shares the host's network.",
                                  env="EAAS_DOCKER_NETWORK")
    memory_mb: int = setting(4096, _positive_int, "Docker backend: memory limit of a scoring "
                             "container (MiB; no swap beyond it).", env="EAAS_MEMORY_MB")
    health_timeout: int = setting(300, _positive_int, "Seconds a new explainer has to become "
                                  "healthy and explain one text before rollback.",
                                  env="EAAS_HEALTH_TIMEOUT")
    state_path: Path = setting(None, _path, "JSON record of what is deployed.",
                               env="EAAS_STATE_PATH", shown="<home>/eaas/deployment.json")
    schedule: str = setting("*/10 * * * *", str, "Schedule of the eaas_redeploy DAG.",
                            env="EAAS_SCHEDULE")
    poke_interval: int = setting(60, _positive_int, "Seconds between the wait_for_new_explainer "
                                 "sensor's pokes.", env="EAAS_POKE_INTERVAL")
    sensor_timeout: int = setting(540, _positive_int, "Seconds the sensor waits for a new "
                                  "explainer before its run is skipped.", env="EAAS_SENSOR_TIMEOUT")


@dataclass(frozen=True)
class SparkSettings:
    """The Spark job's driver."""

    mlflow_user: str = setting("", str, "MLflow user of the Spark job's driver (it downloads the "
                               "explainer).", env="SPARK_MLFLOW_USER")
    mlflow_password: str = setting("", str, "That user's password.", env="SPARK_MLFLOW_PASSWORD")


#: The sections of :class:`Settings` read by :func:`setting` declarations, in documentation order.
SECTIONS: dict[str, type] = {
    "paths": PathSettings, "cache": CacheSettings, "run": RunSettings,
    "schedule": ScheduleSettings, "serve": ServeSettings, "eaas": EaasSettings,
    "spark": SparkSettings,
}

#: ExplainerConfig fields set by ``DLEXPLAIN_<FIELD>``; parsed here, validated by ExplainerConfig.
_EXPLAINER_FIELDS: dict[str, tuple[Callable[[str], object], str]] = {
    "max_evals": (int, "Model evaluations per explained text of new explainers (shap's "
                  "max_evals)."),
    "batch_size": (int, "Masked texts per model forward pass."),
    "backend": (str, "Model numerics: fp32, bf16 (faster where native, approximate) or auto."),
}


@dataclass(frozen=True)
class Settings:
    """dlexplain settings in sections; each field maps to one ``DLEXPLAIN_*`` variable."""

    paths: PathSettings
    explainer: ExplainerConfig = ExplainerConfig()
    cache: CacheSettings = CacheSettings()
    run: RunSettings = RunSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    serve: ServeSettings = ServeSettings()
    eaas: EaasSettings = EaasSettings()
    spark: SparkSettings = SparkSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), each value parsed by type."""
        env = os.environ if environ is None else environ
        home = env.get("DLEXPLAIN_HOME", ".dlexplain")
        cache_dir = env.get("DLEXPLAIN_CACHE_DIR") or os.path.join(
            env.get("XDG_CACHE_HOME") or "~/.cache", "dlexplain")
        data_dir = env.get("DLEXPLAIN_DATA_DIR") or os.path.join(home, "data")
        computed = {
            "DLEXPLAIN_CACHE_DIR": cache_dir,
            "DLEXPLAIN_DATA_DIR": data_dir,
            "DLEXPLAIN_INPUT_ROOTS": data_dir,
            "DLEXPLAIN_OUTPUT_ROOTS": os.path.join(home, "explanations"),
            "DLEXPLAIN_EXPLANATION_CACHE_PATH": os.path.join(cache_dir, "explanations.sqlite"),
            "DLEXPLAIN_EAAS_STATE_PATH": os.path.join(home, "eaas", "deployment.json"),
        }
        sections = {name: _section(section, env, computed) for name, section in SECTIONS.items()}
        return cls(explainer=_explainer_config(env), **sections)


def _section(section: type, env: Mapping[str, str], computed: Mapping[str, str]) -> Any:
    values = {}
    for spec in fields(section):
        var = _var(spec)
        raw = env.get(var, computed.get(var))
        if raw is not None:
            values[spec.name] = _parsed(var, raw, spec.metadata["parse"])
    return section(**values)


def _parsed(var: str, raw: str, parse: Callable[[str], object]) -> object:
    try:
        return parse(raw)
    except ValueError as err:
        raise ConfigError(f"{var}={raw!r} is invalid: {err}") from err


def _explainer_config(env: Mapping[str, str]) -> ExplainerConfig:
    """ExplainerConfig from ``DLEXPLAIN_MAX_EVALS`` etc.; a bad value names its variable."""
    values = {}
    for name, (parse, _) in _EXPLAINER_FIELDS.items():
        var = f"DLEXPLAIN_{name.upper()}"
        if var not in env:
            continue
        values[name] = _parsed(var, env[var], parse)
        problem = ExplainerConfig.problem(name, values[name])
        if problem:
            raise ConfigError(f"{var}={env[var]!r} is invalid: {problem}")
    return ExplainerConfig(**values)


def settings_table() -> list[dict[str, str]]:
    """Every variable as the documentation lists it: section, variable, default, meaning."""
    rows = []
    for name, section in SECTIONS.items():
        for spec in fields(section):
            shown = spec.metadata["shown"]
            if shown is None:
                shown = _shown(spec.default)
            rows.append({"section": name, "variable": _var(spec), "default": shown,
                         "meaning": spec.metadata["doc"]})
    explainer = ExplainerConfig()
    for name, (_, doc) in _EXPLAINER_FIELDS.items():
        rows.append({"section": "explainer", "variable": f"DLEXPLAIN_{name.upper()}",
                     "default": _shown(getattr(explainer, name)), "meaning": doc})
    return rows


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is MISSING or value is None or value == ():
        return ""
    return str(value)


def environment() -> Mapping[str, str]:
    """The process environment, for checks of variables that are not settings (the compose
    stack's ``.env``: ``dlexplain stack preflight``, the MLflow users' passwords)."""
    return os.environ
