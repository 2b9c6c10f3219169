"""The production stores on a real PostgreSQL: Airflow's metadata DB and MLflow's backend store.

A throwaway cluster gets one database per service; the MLflow server runs on its database and
``airflow dags test`` (``dag.test()``) runs ``explain_reviews`` end to end on Airflow's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from dlexplain.defaults import build_default_data
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (EXPLANATIONS_EXPERIMENT, TAG_LOGICAL_DATE,
                                     experiment_id)
from dlexplain.tracking.server import start_server, stop_server
from tests.conftest import REPO
from tests.services.postgres import postgres_cluster

pytestmark = pytest.mark.slow
DAY = date(2026, 1, 4)


@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as cluster:
        yield cluster


def _airflow(args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True,
                          text=True, env=env, timeout=900)
    assert done.returncode == 0, f"airflow {args[0]}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_explain_reviews_on_postgres_backed_airflow_and_mlflow(postgres, tmp_path, settings,
                                                               default_model, monkeypatch):
    airflow_db, mlflow_db = postgres.create_database("airflow"), postgres.create_database("mlflow")
    server = start_server(tmp_path / "mlflow", backend_store_uri=mlflow_db)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        home = tmp_path / "dlexplain"
        build_default_data(settings.cache_dir, home / "data", DAY, DAY, rows_per_day=4)
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "MLFLOW_TRACKING_URI": server.url,
            "DLEXPLAIN_HOME": str(home),
            "DLEXPLAIN_DATA_DIR": str(home / "data"),
            "DLEXPLAIN_EXPLANATION_CACHE_PATH": str(tmp_path / "explanations.sqlite"),
        }
        _airflow(["db", "migrate"], env)
        conf = json.dumps({"max_evals": 30, "rows_per_batch": 2})
        _airflow(["dags", "test", "explain_reviews", DAY.isoformat(), "--conf", conf], env)

        (state,) = postgres.query(airflow_db, "SELECT state FROM dag_run "
                                              "WHERE dag_id = 'explain_reviews'")
        assert state == ("success",)
        states = dict(postgres.query(airflow_db, "SELECT task_id, state FROM task_instance "
                                                 "WHERE dag_id = 'explain_reviews'"))
        assert set(states.values()) == {"success"} and "batch_explain" in states

        output = home / "explanations" / "reviews" / f"ds={DAY}"
        assert pq.read_table(output).num_rows == 4
        runs = MlflowClient(server.url).search_runs(
            [experiment_id(EXPLANATIONS_EXPERIMENT)],
            filter_string=where({tag(TAG_LOGICAL_DATE): str(DAY)}))
        assert len(runs) == 1 and runs[0].data.tags["dlexplain.rows"] == "4"
        # the runs live in PostgreSQL, not in a local file store
        stored = postgres.query(mlflow_db, "SELECT run_uuid FROM runs")
        assert (runs[0].info.run_id,) in stored and len(stored) >= 2
    finally:
        stop_server(tmp_path / "mlflow")
