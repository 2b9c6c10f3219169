"""Settings: one frozen object read from ``DLEXPLAIN_*`` environment variables.

This is the only module that reads ``DLEXPLAIN_*`` variables (``stack_env`` checks the
compose stack's own). Every variable, its type and default is
listed in ``Settings`` (and in the README's configuration table). Nothing is read at import time:
each process's entry point (the CLI, a DAG file, the Spark job, the pyfunc's ``load_context``)
calls :meth:`Settings.from_env` once and passes the object down.

The explainer's own settings (``DLEXPLAIN_MAX_EVALS``, ``_BATCH_SIZE``, ``_BACKEND``) become an
:class:`~dlexplain.explain.config.ExplainerConfig`, which alone decides what values are valid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Mapping

from dlexplain.errors import ConfigError
from dlexplain.explain.config import ExplainerConfig, check_device

#: Where the explanation service (EaaS) runs: local scoring-server processes or Docker containers.
EAAS_BACKENDS = ("process", "docker")


def _path(value: str) -> Path:
    return Path(value).expanduser()


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


#: ExplainerConfig fields set by ``DLEXPLAIN_<FIELD>``; parsed here, validated by ExplainerConfig.
_EXPLAINER_FIELDS: dict[str, Callable[[str], object]] = {
    "max_evals": int, "batch_size": int, "backend": str,
}

_PARSERS: dict[str, Callable[[str], object]] = {
    "cache_dir": _path,
    "home": _path,
    "data_dir": _path,
    "device": _device,
    "explanation_cache": _switch,
    "explanation_cache_mb": _positive_int,
    "explanation_cache_path": _path,
    "input_roots": _roots,
    "output_roots": _roots,
    "max_failed_share": _share,
    "schedule": str,
    "source_model": _nonempty,
    "trusted_experiment": str,
    "fast_min_new_texts": _count,
    "task_timeout": _positive_int,
    "job_timeout": _positive_int,
    "serve_max_texts": _positive_int,
    "serve_max_chars": _positive_int,
    "serve_max_work": _positive_int,
    "serve_max_in_flight": _positive_int,
    "serve_timeout": _positive_int,
    "eaas_classifier": str,
    "eaas_mlflow_user": str,
    "eaas_mlflow_password": str,
    "spark_mlflow_user": str,
    "spark_mlflow_password": str,
    "eaas_backend": _choice(EAAS_BACKENDS),
    "eaas_host": str,
    "eaas_image": str,
    "eaas_docker_network": str,
    "eaas_memory_mb": _positive_int,
    "eaas_health_timeout": _positive_int,
    "eaas_state_path": _path,
    "eaas_schedule": str,
    "eaas_poke_interval": _positive_int,
    "eaas_sensor_timeout": _positive_int,
}


@dataclass(frozen=True)
class Settings:
    """dlexplain settings; each field maps to ``DLEXPLAIN_<FIELD>`` (upper case)."""

    #: Machine-wide cache: the built default model, the downloaded IMDb wheel.
    cache_dir: Path
    #: Project-local state: default data, demo outputs, server state and logs.
    home: Path
    #: Where the default daily review partitions live (``<data_dir>/reviews/ds=YYYY-MM-DD``).
    data_dir: Path
    #: New explainers' settings (``DLEXPLAIN_MAX_EVALS``, ``_BATCH_SIZE``, ``_BACKEND``).
    explainer: ExplainerConfig = ExplainerConfig()
    #: Torch device for the classifier: auto (CUDA when present), cpu or cuda.
    device: str = "auto"
    #: on/off: reuse explanations of texts already explained by the same explainer.
    explanation_cache: bool = True
    #: Bound of the explanation cache in MiB; least recently used entries are evicted.
    explanation_cache_mb: int = 1024
    #: SQLite file of the explanation cache (default ``<cache_dir>/explanations.sqlite``).
    explanation_cache_path: Path | None = None
    #: Folders (or URI prefixes, comma-separated) that input partitions must lie under
    #: (default ``<data_dir>``).
    input_roots: tuple[str, ...] = ()
    #: Folders (or URI prefixes) that outputs must lie under (default ``<home>/explanations``);
    #: the job replaces an output folder only when it wrote it.
    output_roots: tuple[str, ...] = ()
    #: The job refuses to publish when a larger share of the rows failed (the old output stays).
    max_failed_share: float = 0.5
    #: Schedule of the ``explain_reviews`` DAG.
    schedule: str = "@daily"
    #: The classifier the DAGs explain unless a run's ``source_model`` param names another (the
    #: param's default, so what scheduled runs use): ``default``, an HF folder or an MLflow URI.
    source_model: str = "default"
    #: The experiment explainers are loaded, reused and served from (empty: any). Set it where
    #: MLflow has users and only the pipeline's writes it (the stack: ``dlexplain-explainers``):
    #: a version registered from a run elsewhere is another user's, and is skipped.
    trusted_experiment: str = ""
    #: ``train_fast_explainer`` trains when this many explained texts are new since the last
    #: fast explainer (its ``min_new_texts`` param's default: what Asset-triggered runs use).
    fast_min_new_texts: int = 200
    #: Seconds any DAG task may run (its ``execution_timeout``) unless it is a job below.
    task_timeout: int = 1800
    #: Seconds the long jobs may run: ``batch_explain`` (the Spark job) and ``train``.
    job_timeout: int = 43200
    #: Served explainer: most texts in one request (more answer 400).
    serve_max_texts: int = 64
    #: Served explainer: most characters in one text (longer answer 400).
    serve_max_chars: int = 20000
    #: Served explainer: most work one request may cost, in tokens x model evaluations (more
    #: answer 400 before any work; 200,000 is about 30 s of the default model on 2 cores).
    serve_max_work: int = 200_000
    #: Served explainer: most requests in flight; more answer 503 at once, with Retry-After.
    serve_max_in_flight: int = 2
    #: Served explainer: seconds a request may take (504 after them, and its work stops).
    serve_timeout: int = 60
    #: What ``eaas_redeploy`` serves: the explainer of the classifier this URI names now.
    eaas_classifier: str = "models:/sentiment-classifier@champion"
    #: MLflow user (and password) of the scoring servers the backends start; empty: the
    #: starting process's own ``MLFLOW_TRACKING_USERNAME``, if any.
    eaas_mlflow_user: str = ""
    eaas_mlflow_password: str = ""
    #: MLflow user (and password) of the Spark job's driver (it downloads the explainer).
    spark_mlflow_user: str = ""
    spark_mlflow_password: str = ""
    #: Where ``eaas_redeploy`` runs the served explainer: ``process`` or ``docker``.
    eaas_backend: str = "process"
    #: Interface the served explainer listens on (``0.0.0.0`` to serve other machines).
    eaas_host: str = "127.0.0.1"
    #: Docker backend: image with this package and ``mlflow`` (the project image).
    eaas_image: str = "dlexplain:latest"
    #: Docker backend: network mode; ``bridge`` maps a port, ``host`` shares the host's network.
    eaas_docker_network: str = "bridge"
    #: Docker backend: memory limit of a scoring container (MiB; no swap beyond it).
    eaas_memory_mb: int = 4096
    #: Seconds a new explainer has to become healthy and explain one text before rollback.
    eaas_health_timeout: int = 300
    #: JSON record of what is deployed (default ``<home>/eaas/deployment.json``).
    eaas_state_path: Path | None = None
    #: Schedule of the ``eaas_redeploy`` DAG.
    eaas_schedule: str = "*/10 * * * *"
    #: Seconds between the ``wait_for_new_explainer`` sensor's pokes.
    eaas_poke_interval: int = 60
    #: Seconds the sensor waits for a new explainer before its run is skipped.
    eaas_sensor_timeout: int = 540

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), each value parsed by type."""
        env = os.environ if environ is None else environ
        home = env.get("DLEXPLAIN_HOME", ".dlexplain")
        cache_dir = env.get("DLEXPLAIN_CACHE_DIR") or os.path.join(
            env.get("XDG_CACHE_HOME") or "~/.cache", "dlexplain")
        data_dir = env.get("DLEXPLAIN_DATA_DIR") or os.path.join(home, "data")
        computed = {
            "cache_dir": cache_dir,
            "home": home,
            "data_dir": data_dir,
            "input_roots": data_dir,
            "output_roots": os.path.join(home, "explanations"),
            "explanation_cache_path": os.path.join(cache_dir, "explanations.sqlite"),
            "eaas_state_path": os.path.join(home, "eaas", "deployment.json"),
        }
        defaults = {f.name: f.default for f in fields(cls)}
        values = {}
        for name, parse in _PARSERS.items():
            var = f"DLEXPLAIN_{name.upper()}"
            raw = env.get(var, computed.get(name))
            if raw is None:
                values[name] = defaults[name]
                continue
            values[name] = _parsed(var, raw, parse)
        return cls(explainer=_explainer_config(env), **values)


def _parsed(var: str, raw: str, parse: Callable[[str], object]) -> object:
    try:
        return parse(raw)
    except ValueError as err:
        raise ConfigError(f"{var}={raw!r} is invalid: {err}") from err


def _explainer_config(env: Mapping[str, str]) -> ExplainerConfig:
    """ExplainerConfig from ``DLEXPLAIN_MAX_EVALS`` etc.; a bad value names its variable."""
    values = {}
    for name, parse in _EXPLAINER_FIELDS.items():
        var = f"DLEXPLAIN_{name.upper()}"
        if var not in env:
            continue
        values[name] = _parsed(var, env[var], parse)
        problem = ExplainerConfig.problem(name, values[name])
        if problem:
            raise ConfigError(f"{var}={env[var]!r} is invalid: {problem}")
    return ExplainerConfig(**values)
