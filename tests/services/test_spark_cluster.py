"""The real-cluster path: a Spark standalone master + worker, batch_explain via SparkSubmitOperator."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dlexplain.explain.table import read_explanations
from dlexplain.explain.config import ExplainerConfig
from dlexplain.spark import application_path
from dlexplain.tracking.registry import ExplainerSpec, log_explainer
from dlexplain.base.processes import free_port
from tests.services.processes import background
from tests.checks import assert_additive

pytestmark = pytest.mark.slow
SPARK_CLASS = str(Path(sys.executable).parent / "spark-class")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture()
def spark_cluster(tmp_path):
    """A standalone master and one worker (2 cores) on loopback, stopped by PID."""
    master_port, worker_ui = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(tmp_path / "work")}
    master_cmd = [SPARK_CLASS, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                  "--port", str(master_port), "--webui-port", str(free_port())]
    url = f"spark://127.0.0.1:{master_port}"
    worker_cmd = [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", url, "--host",
                  "127.0.0.1", "--cores", "2", "--memory", "3g", "--webui-port", str(worker_ui)]
    with background(master_cmd, tmp_path / "master.log", env, lambda: _listening(master_port)), \
            background(worker_cmd, tmp_path / "worker.log", env,
                       lambda: "Successfully registered with master"
                       in (tmp_path / "worker.log").read_text(errors="replace")) as worker:
        yield {"url": url, "master_port": master_port, "worker": worker}


def test_batch_explain_on_a_standalone_cluster(spark_cluster, tracking_uri, tiny_model_dir,
                                               unique, tmp_path, monkeypatch):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    explainer = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=40)),
                              f"exp-{unique}", registered_model_name=f"expl-{unique}")
    source = tmp_path / "in" / "part-0.parquet"
    source.parent.mkdir()
    pd.DataFrame({"id": range(6), "text": ["the film was great", "a dull movie", None,
                                           "love the story", "boring plot", "best acting"]}
                 ).to_parquet(source, index=False)
    output = tmp_path / "out" / "ds=2026-01-01"
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_CLUSTER",
                       f"spark://127.0.0.1:{spark_cluster['master_port']}")
    operator = SparkSubmitOperator(
        task_id="batch_explain", conn_id="spark_cluster", application=application_path(),
        application_args=["--model-uri", explainer.model_uri,
                          "--input", str(source.parent), "--output", str(output),
                          "--id-column", "id"],
        env_vars={"MLFLOW_TRACKING_URI": tracking_uri},
        conf={"spark.pyspark.python": sys.executable, "spark.executor.memory": "2g",
              "spark.cores.max": "2"},
    )
    operator.execute(context={})
    hook_command = operator._hook._build_spark_submit_command(operator.application)
    assert hook_command[hook_command.index("--master") + 1] == spark_cluster["url"]

    table = pq.read_table(output)
    assert table.num_rows == 6 and table.column("id").to_pylist() == list(range(6))
    results = read_explanations(table)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert_additive(results)
