"""Settings: one frozen object read from ``DLEXPLAIN_*`` environment variables.

Every variable, its type and default is listed in ``Settings`` (and in the README's configuration
table). Nothing is read at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Mapping

from dlexplain.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
#: Model numerics: fp32 (default, equal to shap on the pipeline) or bf16 (bfloat16 autocast:
#: faster where the CPU has AMX/AVX-512-BF16 or on CUDA; fidelity in ``bench/bench_explain.py``).
BACKENDS = ("fp32", "bf16")
#: Where the explanation service (EaaS) runs: local scoring-server processes or Docker containers.
EAAS_BACKENDS = ("process", "docker")


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be >= 1")
    return number


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


_PARSERS: dict[str, Callable[[str], object]] = {
    "cache_dir": _path,
    "home": _path,
    "data_dir": _path,
    "device": _choice(DEVICES),
    "batch_size": _positive_int,
    "max_evals": _positive_int,
    "backend": _choice(BACKENDS),
    "explanation_cache": _switch,
    "explanation_cache_mb": _positive_int,
    "explanation_cache_path": _path,
    "serve_max_texts": _positive_int,
    "serve_max_chars": _positive_int,
    "eaas_backend": _choice(EAAS_BACKENDS),
    "eaas_host": str,
    "eaas_image": str,
    "eaas_docker_network": str,
    "eaas_health_timeout": _positive_int,
    "eaas_state_path": _path,
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
    #: Torch device for the classifier: auto (CUDA when present), cpu or cuda.
    device: str = "auto"
    #: Masked texts per model forward pass.
    batch_size: int = 64
    #: Model evaluations per explained text (shap's max_evals).
    max_evals: int = 500
    #: Model numerics of new explainers: fp32 or bf16 (see ``BACKENDS``).
    backend: str = "fp32"
    #: on/off: reuse explanations of texts already explained by the same explainer.
    explanation_cache: bool = True
    #: Bound of the explanation cache in MiB; least recently used entries are evicted.
    explanation_cache_mb: int = 1024
    #: SQLite file of the explanation cache (default ``<cache_dir>/explanations.sqlite``).
    explanation_cache_path: Path | None = None
    #: Served explainer: most texts in one request (more answer 400).
    serve_max_texts: int = 64
    #: Served explainer: most characters in one text (longer answer 400).
    serve_max_chars: int = 20000
    #: Where ``eaas_redeploy`` runs the served explainer: ``process`` or ``docker``.
    eaas_backend: str = "process"
    #: Interface the served explainer listens on (``0.0.0.0`` to serve other machines).
    eaas_host: str = "127.0.0.1"
    #: Docker backend: image with this package and ``mlflow`` (the project image).
    eaas_image: str = "dlexplain:latest"
    #: Docker backend: network mode; ``bridge`` maps a port, ``host`` shares the host's network.
    eaas_docker_network: str = "bridge"
    #: Seconds a new explainer has to become healthy and explain one text before rollback.
    eaas_health_timeout: int = 300
    #: JSON record of what is deployed (default ``<home>/eaas/deployment.json``).
    eaas_state_path: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), each value parsed by type."""
        env = os.environ if environ is None else environ
        home = env.get("DLEXPLAIN_HOME", ".dlexplain")
        cache_dir = env.get("DLEXPLAIN_CACHE_DIR") or os.path.join(
            env.get("XDG_CACHE_HOME") or "~/.cache", "dlexplain")
        defaults = {
            "cache_dir": cache_dir,
            "home": home,
            "data_dir": os.path.join(home, "data"),
            "device": "auto",
            "batch_size": "64",
            "max_evals": "500",
            "backend": "fp32",
            "explanation_cache": "on",
            "explanation_cache_mb": "1024",
            "explanation_cache_path": os.path.join(cache_dir, "explanations.sqlite"),
            "serve_max_texts": "64",
            "serve_max_chars": "20000",
            "eaas_backend": "process",
            "eaas_host": "127.0.0.1",
            "eaas_image": "dlexplain:latest",
            "eaas_docker_network": "bridge",
            "eaas_health_timeout": "300",
            "eaas_state_path": os.path.join(home, "eaas", "deployment.json"),
        }
        values = {}
        for field in fields(cls):
            var = f"DLEXPLAIN_{field.name.upper()}"
            raw = env.get(var, defaults[field.name])
            try:
                values[field.name] = _PARSERS[field.name](raw)
            except ValueError as err:
                raise ConfigError(f"{var}={raw!r} is invalid: {err}") from err
        return cls(**values)
