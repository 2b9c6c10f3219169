"""The sections of :class:`~dlexplain.config.Settings`: frozen dataclasses whose fields declare
their variable, parser and meaning with :func:`setting`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, dataclass, field
from pathlib import Path
from typing import Any

from dlexplain.config.parsers import (
    addresses,
    count,
    device,
    nonempty,
    path,
    positive_int,
    roots,
    share,
    switch,
)


def setting(
    default: Any, parse: Callable[[str], Any], doc: str, *, env: str, shown: str | None = None
) -> Any:
    """A settings field read from ``DLEXPLAIN_<env>`` with ``parse``; ``shown`` is the default as
    the documentation states it where it is computed from other settings."""
    return field(default=default, metadata={"parse": parse, "doc": doc, "env": env, "shown": shown})


def env_var(spec: Field) -> str:
    return f"DLEXPLAIN_{spec.metadata['env']}"


@dataclass(frozen=True)
class PathSettings:
    """Where dlexplain keeps things."""

    home: Path = setting(
        Path(".dlexplain"),
        path,
        "Project-local state: default data, demo outputs, server state and logs.",
        env="HOME",
    )
    cache_dir: Path = setting(
        None,
        path,
        "Machine-wide cache: the built default model, the downloaded IMDb wheel.",
        env="CACHE_DIR",
        shown="$XDG_CACHE_HOME/dlexplain (~/.cache/dlexplain)",
    )
    data_dir: Path = setting(
        None,
        path,
        "Where the default daily review partitions live (<data_dir>/reviews/ds=YYYY-MM-DD).",
        env="DATA_DIR",
        shown="<home>/data",
    )
    input_roots: tuple[str, ...] = setting(
        (),
        roots,
        "Folders (or URI prefixes, comma-separated) that input partitions must lie under.",
        env="INPUT_ROOTS",
        shown="<data_dir>",
    )
    output_roots: tuple[str, ...] = setting(
        (),
        roots,
        "Folders (or URI prefixes) that outputs "
        "must lie under; the job replaces an output folder "
        "only when it wrote it.",
        env="OUTPUT_ROOTS",
        shown="<home>/explanations",
    )


@dataclass(frozen=True)
class CacheSettings:
    """The explanation cache: texts already explained by the same explainer are not redone."""

    enabled: bool = setting(
        True,
        switch,
        "on/off: reuse explanations of texts already explained by the same explainer.",
        env="EXPLANATION_CACHE",
        shown="on",
    )
    mb: int = setting(
        1024,
        positive_int,
        "Bound of the explanation cache in MiB; least recently used entries are evicted.",
        env="EXPLANATION_CACHE_MB",
    )
    path: Path = setting(
        None,
        path,
        "SQLite file of the explanation cache.",
        env="EXPLANATION_CACHE_PATH",
        shown="<cache_dir>/explanations.sqlite",
    )


@dataclass(frozen=True)
class RunSettings:
    """What the DAGs explain, with what, and when a night fails."""

    source_model: str = setting(
        "default",
        nonempty,
        "The classifier the DAGs explain unless a "
        "run's source_model param names another (the param's default, so"
        " what scheduled runs use): default, an HF folder or an MLflow "
        "URI.",
        env="SOURCE_MODEL",
    )
    device: str = setting(
        "auto",
        device,
        "Torch device for the classifier: auto (CUDA when present), cpu or cuda.",
        env="DEVICE",
    )
    trusted_experiment: str = setting(
        "",
        str,
        "The experiment explainers are loaded, reused and "
        "served from (empty: any). Set it where MLflow has users "
        "and only the pipeline's writes it (the stack: "
        "dlexplain-explainers).",
        env="TRUSTED_EXPERIMENT",
    )
    max_failed_share: float = setting(
        0.5,
        share,
        "The job refuses to publish when a larger share of the rows failed (the old output stays).",
        env="MAX_FAILED_SHARE",
    )
    artifact_groups: int = setting(
        64,
        positive_int,
        "A night's artifacts are logged in at most this many groups of consecutive batches "
        "(bar plots, arrays and sampled text plots per group), whatever its rows.",
        env="ARTIFACT_GROUPS",
    )


@dataclass(frozen=True)
class ScheduleSettings:
    """When the DAGs run and how long their tasks may take."""

    schedule: str = setting("@daily", str, "Schedule of the explain_reviews DAG.", env="SCHEDULE")
    fast_min_new_texts: int = setting(
        200,
        count,
        "train_fast_explainer trains when this many "
        "explained texts are new since the last fast explainer "
        "(its min_new_texts param's default).",
        env="FAST_MIN_NEW_TEXTS",
    )
    task_timeout: int = setting(
        1800,
        positive_int,
        "Seconds any DAG task may run (its execution_timeout) unless it is a long job.",
        env="TASK_TIMEOUT",
    )
    job_timeout: int = setting(
        43200,
        positive_int,
        "Seconds the long jobs may run: batch_explain (the Spark job) and train.",
        env="JOB_TIMEOUT",
    )


@dataclass(frozen=True)
class SparkSettings:
    """The Spark job's driver."""

    mlflow_user: str = setting(
        "",
        str,
        "MLflow user of the Spark job's driver (it downloads the explainer).",
        env="SPARK_MLFLOW_USER",
    )
    mlflow_password: str = setting("", str, "That user's password.", env="SPARK_MLFLOW_PASSWORD")


@dataclass(frozen=True)
class AlertSettings:
    """Who hears of explanation drift: the ``drift_alert`` DAG's notifier."""

    conn_id: str = setting(
        "dlexplain_drift_alert",
        nonempty,
        "Airflow connection drift_alert notifies through (type smtp: an e-mail by the SMTP "
        "provider's notifier); when it does not exist, a warning in the task log.",
        env="ALERT_CONN_ID",
    )
    to: tuple[str, ...] = setting(
        (),
        addresses,
        "Who the drift e-mail goes to (comma-separated addresses; needed with an smtp connection).",
        env="ALERT_TO",
    )
