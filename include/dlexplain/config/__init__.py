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
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from dlexplain.config.sections import (
    AlertSettings,
    CacheSettings,
    PathSettings,
    RunSettings,
    ScheduleSettings,
    SparkSettings,
    env_var,
)
from dlexplain.config.serving import EaasSettings, ServeSettings
from dlexplain.errors import ConfigError
from dlexplain.explain.config import ExplainerConfig

#: The sections of :class:`Settings` read by :func:`setting` declarations, in documentation order.
SECTIONS: dict[str, type] = {
    "paths": PathSettings,
    "cache": CacheSettings,
    "run": RunSettings,
    "schedule": ScheduleSettings,
    "serve": ServeSettings,
    "eaas": EaasSettings,
    "spark": SparkSettings,
    "alert": AlertSettings,
}

#: ExplainerConfig fields set by ``DLEXPLAIN_<FIELD>``; parsed here, validated by ExplainerConfig.
_EXPLAINER_FIELDS: dict[str, tuple[Callable[[str], object], str]] = {
    "max_evals": (
        int,
        "Model evaluations per explained text of new explainers (shap's max_evals).",
    ),
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
    alert: AlertSettings = AlertSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), each value parsed by type."""
        env = os.environ if environ is None else environ
        home = env.get("DLEXPLAIN_HOME", ".dlexplain")
        cache_dir = env.get("DLEXPLAIN_CACHE_DIR") or os.path.join(
            env.get("XDG_CACHE_HOME") or "~/.cache", "dlexplain"
        )
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
        var = env_var(spec)
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
    values: dict[str, Any] = {}  # each checked by ExplainerConfig.problem below
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
            rows.append(
                {
                    "section": name,
                    "variable": env_var(spec),
                    "default": shown,
                    "meaning": spec.metadata["doc"],
                }
            )
    explainer = ExplainerConfig()
    for name, (_, doc) in _EXPLAINER_FIELDS.items():
        rows.append(
            {
                "section": "explainer",
                "variable": f"DLEXPLAIN_{name.upper()}",
                "default": _shown(getattr(explainer, name)),
                "meaning": doc,
            }
        )
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
