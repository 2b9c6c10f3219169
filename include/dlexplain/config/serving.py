"""The serving sections of :class:`~dlexplain.config.Settings`: the served explainer's limits and
the explanation service that ``eaas_redeploy`` keeps up to date."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlexplain.config.parsers import (
    choice,
    path,
    positive_int,
)
from dlexplain.config.sections import setting

#: Where the explanation service (EaaS) runs: local scoring-server processes or Docker containers.
EAAS_BACKENDS = ("process", "docker")


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the served explainer (more answers 400, 503 or 504, never a stack trace)."""

    model_uri: str = setting(
        "",
        str,
        "The explainer a scoring server started by `dlexplain eaas "
        "serve` without a model URI serves (set by the backends).",
        env="SERVE_MODEL_URI",
    )
    max_texts: int = setting(
        64, positive_int, "Most texts in one request (more answer 400).", env="SERVE_MAX_TEXTS"
    )
    max_chars: int = setting(
        20000,
        positive_int,
        "Most characters in one text (longer answer 400).",
        env="SERVE_MAX_CHARS",
    )
    max_work: int = setting(
        200_000,
        positive_int,
        "Most work one request may cost, in tokens x "
        "model evaluations (more answer 400 before any work; 200,000 is about"
        " 30 s of the default model on 2 cores).",
        env="SERVE_MAX_WORK",
    )
    max_in_flight: int = setting(
        2,
        positive_int,
        "Most requests in flight; more answer 503 at once, with Retry-After.",
        env="SERVE_MAX_IN_FLIGHT",
    )
    timeout: int = setting(
        60,
        positive_int,
        "Seconds a request may take (504 after them, and its work stops).",
        env="SERVE_TIMEOUT",
    )


@dataclass(frozen=True)
class EaasSettings:
    """The explanation service that eaas_redeploy keeps serving the newest explainer."""

    classifier: str = setting(
        "models:/sentiment-classifier@champion",
        str,
        "What eaas_redeploy serves: the explainer of the classifier this URI names now.",
        env="EAAS_CLASSIFIER",
    )
    backend: str = setting(
        "process",
        choice(EAAS_BACKENDS),
        "Where eaas_redeploy runs the served explainer: process or docker.",
        env="EAAS_BACKEND",
    )
    host: str = setting(
        "127.0.0.1",
        str,
        "Interface the served explainer listens on (0.0.0.0 to serve other machines).",
        env="EAAS_HOST",
    )
    mlflow_user: str = setting(
        "",
        str,
        "MLflow user of the scoring servers the backends start; "
        "empty: the starting process's own MLFLOW_TRACKING_USERNAME.",
        env="EAAS_MLFLOW_USER",
    )
    mlflow_password: str = setting("", str, "That user's password.", env="EAAS_MLFLOW_PASSWORD")
    image: str = setting(
        "dlexplain:latest",
        str,
        "Docker backend: image with this package and mlflow (the project image).",
        env="EAAS_IMAGE",
    )
    docker_network: str = setting(
        "bridge",
        str,
        "Docker backend: network mode; bridge maps a port, host shares the host's network.",
        env="EAAS_DOCKER_NETWORK",
    )
    memory_mb: int = setting(
        4096,
        positive_int,
        "Docker backend: memory limit of a scoring container (MiB; no swap beyond it).",
        env="EAAS_MEMORY_MB",
    )
    health_timeout: int = setting(
        300,
        positive_int,
        "Seconds a new explainer has to become healthy and explain one text before rollback.",
        env="EAAS_HEALTH_TIMEOUT",
    )
    state_path: Path = setting(
        None,
        path,
        "JSON record of what is deployed.",
        env="EAAS_STATE_PATH",
        shown="<home>/eaas/deployment.json",
    )
    schedule: str = setting(
        "*/10 * * * *", str, "Schedule of the eaas_redeploy DAG.", env="EAAS_SCHEDULE"
    )
    poke_interval: int = setting(
        60,
        positive_int,
        "Seconds between the wait_for_new_explainer sensor's pokes.",
        env="EAAS_POKE_INTERVAL",
    )
    sensor_timeout: int = setting(
        540,
        positive_int,
        "Seconds the sensor waits for a new explainer before its run is skipped.",
        env="EAAS_SENSOR_TIMEOUT",
    )
