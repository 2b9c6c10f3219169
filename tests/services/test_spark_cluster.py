"""The real-cluster path: a Spark standalone master + worker, batch_explain via SparkSubmitOperator."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dlexplain.base.processes import free_port
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.table import read_explanations
from dlexplain.model.registry import ExplainerSpec, log_explainer
from dlexplain.spark import application_path
from tests.checks import assert_additive
from tests.services.processes import background

pytestmark = pytest.mark.slow
SPARK_CLASS = str(Path(sys.executable).parent / "spark-class")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture()
def spark_cluster(tmp_path):
    """A standalone master and two workers (1 core each) on loopback, stopped by PID; each worker
    keeps its applications' executor logs in its own work folder."""
    master_port = free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    master_cmd = [SPARK_CLASS, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                  "--port", str(master_port), "--webui-port", str(free_port())]
    url = f"spark://127.0.0.1:{master_port}"

    def worker(name: str):
        log = tmp_path / f"{name}.log"
        command = [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", url, "--host",
                   "127.0.0.1", "--cores", "1", "--memory", "1500m", "--work-dir",
                   str(tmp_path / name), "--webui-port", str(free_port())]
        return background(command, log, env, lambda: "Successfully registered with master"
                          in log.read_text(errors="replace"))

    with background(master_cmd, tmp_path / "master.log", env, lambda: _listening(master_port)), \
            worker("worker-1") as first, worker("worker-2") as second:
        yield {"url": url, "master_port": master_port, "workers": {
            "worker-1": (first, tmp_path / "worker-1"), "worker-2": (second, tmp_path / "worker-2")}}


def _executor_logs(folder: Path) -> str:
    """What the executors of every application on a worker wrote (their ``stderr`` files)."""
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("app-*/*/stderr")))


def test_batch_explain_on_a_standalone_cluster(spark_cluster, tracking_uri, tiny_model_dir,
                                               unique, tmp_path, monkeypatch, capfd):
    """The job runs on the workers (their executor logs hold the explainer's log lines), and a
    worker killed mid-job (with its executor and Python workers) loses nothing: Spark runs the
    lost tasks on the other worker, and every input row comes out."""
    import threading

    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    explainer = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=300)),
                              f"exp-{unique}", registered_model_name=f"expl-{unique}")
    source = tmp_path / "in" / "part-0.parquet"
    source.parent.mkdir()
    texts = ["the film was great", "a dull movie", None, "love the story", "boring plot",
             "best acting"] * 8
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(source, index=False)
    output = tmp_path / "out" / "ds=2026-01-01"
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_CLUSTER",
                       f"spark://127.0.0.1:{spark_cluster['master_port']}")
    operator = SparkSubmitOperator(
        task_id="batch_explain", conn_id="spark_cluster", application=application_path(),
        application_args=["--model-uri", explainer.model_uri,
                          "--input", str(source.parent), "--output", str(output),
                          "--id-column", "id"],
        env_vars={"MLFLOW_TRACKING_URI": tracking_uri},
        conf={"spark.pyspark.python": sys.executable, "spark.executor.memory": "1g",
              "spark.cores.max": "2", "spark.executor.cores": "1"},
    )
    failure = []
    job = threading.Thread(target=lambda: _run(operator, failure))
    job.start()
    victim, victim_dir = spark_cluster["workers"]["worker-2"]
    deadline = time.monotonic() + 300
    while "loaded explainer" not in _executor_logs(victim_dir):  # its task is explaining
        assert job.is_alive() and time.monotonic() < deadline, failure or "the job ended first"
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)  # the worker, its executor and Python workers
    job.join(600)
    assert not job.is_alive() and not failure, failure
    hook_command = operator._hook._build_spark_submit_command(operator.application)
    assert hook_command[hook_command.index("--master") + 1] == spark_cluster["url"]
    driver = capfd.readouterr()  # the hook relays spark-submit's log
    assert "its executor exited" in driver.out + driver.err, "the driver lost a running task"
    survivor_dir = spark_cluster["workers"]["worker-1"][1]
    assert "loaded explainer" in _executor_logs(survivor_dir), "the work ran on the workers"

    table = pq.read_table(output)
    assert table.num_rows == len(texts) and table.column("id").to_pylist() == list(range(len(texts)))
    results = read_explanations(table)
    assert [r.ok for r in results] == [t is not None for t in texts]
    assert_additive(results)


def _run(operator, failure: list) -> None:
    try:
        operator.execute(context={})
    except Exception as err:  # noqa: BLE001 - reported by the test's thread
        failure.append(repr(err))
