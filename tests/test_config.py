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
