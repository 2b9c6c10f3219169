"""Settings from DLEXPLAIN_* variables: typed, defaulted, errors name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlexplain.config import Settings
from dlexplain.errors import ConfigError


def test_defaults():
    settings = Settings.from_env({"HOME": "/home/u"})
    assert settings.paths.home == Path(".dlexplain")
    assert settings.paths.data_dir == Path(".dlexplain/data")
    assert settings.run.device == "auto" and settings.explainer.batch_size == 64 and settings.explainer.max_evals == 500
    assert settings.paths.cache_dir.name == "dlexplain"
    assert settings.explainer.backend == "fp32" and settings.cache.enabled is True
    assert settings.cache.path == settings.paths.cache_dir / "explanations.sqlite"


def test_cache_can_be_turned_off():
    settings = Settings.from_env({"DLEXPLAIN_EXPLANATION_CACHE": "OFF",
                                  "DLEXPLAIN_EXPLANATION_CACHE_MB": "5"})
    assert settings.cache.enabled is False and settings.cache.mb == 5


def test_values_are_parsed():
    settings = Settings.from_env({"DLEXPLAIN_HOME": "/srv/x", "DLEXPLAIN_BATCH_SIZE": "8",
                                  "DLEXPLAIN_DEVICE": "cpu"})
    assert settings.paths.home == Path("/srv/x") and settings.paths.data_dir == Path("/srv/x/data")
    assert settings.explainer.batch_size == 8 and settings.run.device == "cpu"


@pytest.mark.parametrize("var,value", [("DLEXPLAIN_BATCH_SIZE", "0"),
                                       ("DLEXPLAIN_MAX_EVALS", "lots"),
                                       ("DLEXPLAIN_DEVICE", "tpu"),
                                       ("DLEXPLAIN_BACKEND", "fp16"),
                                       ("DLEXPLAIN_EXPLANATION_CACHE", "maybe"),
                                       ("DLEXPLAIN_ALERT_TO", "oncall, ops@example.org")])
def test_bad_value_names_the_variable(var, value):
    with pytest.raises(ConfigError, match=f"{var}={value!r}"):
        Settings.from_env({var: value})


def test_explainer_settings_are_validated_by_explainer_config():
    from dlexplain.explain.config import MAX_MAX_EVALS, MIN_MAX_EVALS, ExplainerConfig

    settings = Settings.from_env({"DLEXPLAIN_MAX_EVALS": "37", "DLEXPLAIN_BACKEND": "bf16"})
    assert settings.explainer == ExplainerConfig(max_evals=37, backend="bf16")
    with pytest.raises(ConfigError, match=f"DLEXPLAIN_MAX_EVALS='1' is invalid: max_evals=1 "
                                          f"must be an integer from {MIN_MAX_EVALS} to {MAX_MAX_EVALS}"):
        Settings.from_env({"DLEXPLAIN_MAX_EVALS": "1"})
    # the same bound, from the same place, wherever a config is made
    assert ExplainerConfig.problem("max_evals", 1) == (
        f"max_evals=1 must be an integer from {MIN_MAX_EVALS} to {MAX_MAX_EVALS}")
    with pytest.raises(ConfigError, match="max_evals=1"):
        ExplainerConfig(max_evals=1)


def test_dag_settings():
    settings = Settings.from_env({"DLEXPLAIN_SCHEDULE": "@hourly",
                                  "DLEXPLAIN_EAAS_POKE_INTERVAL": "5",
                                  "DLEXPLAIN_SOURCE_MODEL": "models:/reviews@champion"})
    assert settings.schedule.schedule == "@hourly" and settings.eaas.schedule == "*/10 * * * *"
    assert settings.run.source_model == "models:/reviews@champion"
    assert Settings.from_env({}).run.source_model == "default"
    with pytest.raises(ConfigError, match="DLEXPLAIN_SOURCE_MODEL=' ' is invalid: must not be"):
        Settings.from_env({"DLEXPLAIN_SOURCE_MODEL": " "})
    assert settings.eaas.poke_interval == 5 and settings.eaas.sensor_timeout == 540
    with pytest.raises(ConfigError, match="DLEXPLAIN_EAAS_SENSOR_TIMEOUT='0'"):
        Settings.from_env({"DLEXPLAIN_EAAS_SENSOR_TIMEOUT": "0"})


def test_every_variable_is_declared_once_and_the_names_stayed():
    from dlexplain.config import settings_table

    names = [row["variable"] for row in settings_table()]
    assert len(names) == len(set(names))
    old = {"HOME", "CACHE_DIR", "DATA_DIR", "INPUT_ROOTS", "OUTPUT_ROOTS", "EXPLANATION_CACHE",
           "EXPLANATION_CACHE_MB", "EXPLANATION_CACHE_PATH", "SOURCE_MODEL", "DEVICE",
           "TRUSTED_EXPERIMENT", "MAX_FAILED_SHARE", "SCHEDULE", "FAST_MIN_NEW_TEXTS",
           "TASK_TIMEOUT", "JOB_TIMEOUT", "SERVE_MAX_TEXTS", "SERVE_MAX_CHARS", "SERVE_MAX_WORK",
           "SERVE_MAX_IN_FLIGHT", "SERVE_TIMEOUT", "EAAS_CLASSIFIER", "EAAS_BACKEND",
           "EAAS_HOST", "EAAS_MLFLOW_USER", "EAAS_MLFLOW_PASSWORD", "EAAS_IMAGE",
           "EAAS_DOCKER_NETWORK", "EAAS_MEMORY_MB", "EAAS_HEALTH_TIMEOUT", "EAAS_STATE_PATH",
           "EAAS_SCHEDULE", "EAAS_POKE_INTERVAL", "EAAS_SENSOR_TIMEOUT", "SPARK_MLFLOW_USER",
           "SPARK_MLFLOW_PASSWORD", "MAX_EVALS", "BATCH_SIZE", "BACKEND", "SERVE_MODEL_URI",
           "ALERT_CONN_ID", "ALERT_TO", "ARTIFACT_GROUPS"}
    assert set(names) == {f"DLEXPLAIN_{name}" for name in old}
    # each section's variable reaches its field
    settings = Settings.from_env({"DLEXPLAIN_SERVE_MAX_WORK": "7", "DLEXPLAIN_EAAS_HOST": "h",
                                  "DLEXPLAIN_SPARK_MLFLOW_USER": "u", "DLEXPLAIN_JOB_TIMEOUT": "9",
                                  "DLEXPLAIN_EXPLANATION_CACHE_MB": "3"})
    assert (settings.serve.max_work, settings.eaas.host, settings.spark.mlflow_user,
            settings.schedule.job_timeout, settings.cache.mb) == (7, "h", "u", 9, 3)
