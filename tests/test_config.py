"""Settings from DLEXPLAIN_* variables: typed, defaulted, errors name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlexplain.config import Settings
from dlexplain.errors import ConfigError


def test_defaults():
    settings = Settings.from_env({"HOME": "/home/u"})
    assert settings.home == Path(".dlexplain")
    assert settings.data_dir == Path(".dlexplain/data")
    assert settings.device == "auto" and settings.explainer.batch_size == 64 and settings.explainer.max_evals == 500
    assert settings.cache_dir.name == "dlexplain"
    assert settings.explainer.backend == "fp32" and settings.explanation_cache is True
    assert settings.explanation_cache_path == settings.cache_dir / "explanations.sqlite"


def test_cache_can_be_turned_off():
    settings = Settings.from_env({"DLEXPLAIN_EXPLANATION_CACHE": "OFF",
                                  "DLEXPLAIN_EXPLANATION_CACHE_MB": "5"})
    assert settings.explanation_cache is False and settings.explanation_cache_mb == 5


def test_values_are_parsed():
    settings = Settings.from_env({"DLEXPLAIN_HOME": "/srv/x", "DLEXPLAIN_BATCH_SIZE": "8",
                                  "DLEXPLAIN_DEVICE": "cpu"})
    assert settings.home == Path("/srv/x") and settings.data_dir == Path("/srv/x/data")
    assert settings.explainer.batch_size == 8 and settings.device == "cpu"


@pytest.mark.parametrize("var,value", [("DLEXPLAIN_BATCH_SIZE", "0"),
                                       ("DLEXPLAIN_MAX_EVALS", "lots"),
                                       ("DLEXPLAIN_DEVICE", "tpu"),
                                       ("DLEXPLAIN_BACKEND", "fp16"),
                                       ("DLEXPLAIN_EXPLANATION_CACHE", "maybe")])
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
    assert settings.schedule == "@hourly" and settings.eaas_schedule == "*/10 * * * *"
    assert settings.source_model == "models:/reviews@champion"
    assert Settings.from_env({}).source_model == "default"
    with pytest.raises(ConfigError, match="DLEXPLAIN_SOURCE_MODEL=' ' is invalid: must not be"):
        Settings.from_env({"DLEXPLAIN_SOURCE_MODEL": " "})
    assert settings.eaas_poke_interval == 5 and settings.eaas_sensor_timeout == 540
    with pytest.raises(ConfigError, match="DLEXPLAIN_EAAS_SENSOR_TIMEOUT='0'"):
        Settings.from_env({"DLEXPLAIN_EAAS_SENSOR_TIMEOUT": "0"})
