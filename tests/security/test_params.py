"""Issue 25, items 4 and 8: a param names paths and numbers, never code: path templates
substitute three names literally, and every numeric param of every DAG has bounds that every
other door (validator, CLI, training step) shares."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlexplain.base.paths import fill_template
from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.explain.config import (
    MAX_MAX_EVALS,
    MAX_REFERENCE_TEXTS,
    MIN_MAX_EVALS,
    ExplainerConfig,
)
from dlexplain.pipelines.partitions import OUTPUT_TEMPLATE, plan_partition
from tests.conftest import REPO

SECRET = "fernet-secret-never-shown-7f3a"
#: the issue's attack: a format string that walks from a str's class to os.environ
FERNET = "{data_dir.__class__.__new__.__globals__[os].environ[AIRFLOW__CORE__FERNET_KEY]}"


@pytest.mark.parametrize("template", [
    FERNET, "{data_dir.__class__}", "{ds!r}", "{ds:>40}", "{0}", "{}", "{home[0]}",
    "{data_dir}/{", "{data_dir}}/x", "{{data_dir}}"])
def test_a_template_substitutes_names_and_nothing_else(template, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", SECRET)
    monkeypatch.setenv("DLEXPLAIN_HOME", str(tmp_path))
    with pytest.raises(DataError, match="bad path template") as refused:
        plan_partition("2026-01-01", template, OUTPUT_TEMPLATE, Settings.from_env())
    assert SECRET not in str(refused.value)


def test_placeholders_are_replaced_literally():
    fields = {"ds": "2026-01-01", "data_dir": "/d/{ds}", "home": "/h"}
    assert fill_template("{data_dir}/reviews/ds={ds}", fields) == "/d/{ds}/reviews/ds=2026-01-01"


def _numeric_params():
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(REPO / "dags")).dags
    found = []
    for dag_id, dag in dags.items():
        for name, param in dag.params.items():
            kinds = param.schema.get("type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if {"integer", "number"} & set(kinds):
                found.append((dag_id, name, param.schema))
    return found


def test_every_numeric_param_of_every_dag_is_bounded():
    params = _numeric_params()
    assert len(params) >= 20, params
    for dag_id, name, schema in params:
        assert {"minimum", "exclusiveMinimum"} & set(schema), (dag_id, name)
        assert {"maximum", "exclusiveMaximum"} & set(schema), (dag_id, name)
    by_name = {(dag_id, name): schema for dag_id, name, schema in params}
    for key in (("explain_reviews", "max_evals"),
                ("train_fast_explainer", "reference_max_evals")):
        assert (by_name[key]["minimum"], by_name[key]["maximum"]) == (MIN_MAX_EVALS,
                                                                      MAX_MAX_EVALS), key
    assert by_name[("train_fast_explainer", "reference_texts")]["maximum"] == MAX_REFERENCE_TEXTS


@pytest.mark.parametrize("value", [MIN_MAX_EVALS - 1, MAX_MAX_EVALS + 1])
def test_no_door_takes_a_max_evals_the_validator_refuses(value, tmp_path):
    with pytest.raises(ConfigError, match="max_evals"):
        ExplainerConfig(max_evals=value)
    done = subprocess.run([sys.executable, "-m", "dlexplain.cli", "explain", "--input",
                           str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.parquet"),
                           "--max-evals", str(value)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and f"from {MIN_MAX_EVALS} to {MAX_MAX_EVALS}" in done.stderr
    from dlexplain.pipelines.train_fast_explainer import train_fast

    with pytest.raises(ConfigError, match="reference_max_evals"):
        train_fast(None, thresholds=None, training=None, held_out_fraction=0.2,
                   settings=Settings.from_env(), reference_texts=8, reference_max_evals=value)
    with pytest.raises(ConfigError, match="reference_texts"):
        train_fast(None, thresholds=None, training=None, held_out_fraction=0.2,
                   settings=Settings.from_env(), reference_texts=MAX_REFERENCE_TEXTS + 1)
