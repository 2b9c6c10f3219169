"""Deterministic errors fail their task at once, without retries; transient ones keep them.

One test per kind of deterministic error, through the real step the DAG calls (bad param,
missing partition, unknown class, unreadable model), one for a transient fault (MLflow away),
``prepare`` failing on a bad ``class_to_plot`` within seconds in a DAG run, and the
spark-submit job's own refusal (exit code 2) turned into ``AirflowFailException`` by its
operator while other job failures stay retryable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import pendulum
import pytest

from dlexplain.config import Settings
from dlexplain.explain.request import RunRequest
from dlexplain.pipelines.explain_reviews import ensure_explainer, prepare_run
from dlexplain.pipelines.partitions import DATASET_TEMPLATE, OUTPUT_TEMPLATE
from dlexplain.quality.rule import DriftRule

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
from fail_fast import fail_fast  # noqa: E402  (plugins/ is on Airflow's path, not pytest's)

DAY = "2026-04-01"


@pytest.fixture()
def day_partition(dlexplain_home):
    folder = dlexplain_home / "data" / "reviews" / f"ds={DAY}"
    folder.mkdir(parents=True)
    pd.DataFrame({"id": ["a"], "text": ["a fine film"]}).to_parquet(folder / "part-0.parquet")
    return folder


def _prepare(source: str, class_to_plot=None, day: str = DAY, input_format=None):
    return prepare_run(day, dataset_template=DATASET_TEMPLATE, output_template=OUTPUT_TEMPLATE,
                       text_column="text", source=source, class_to_plot=class_to_plot,
                       settings=Settings.from_env(), input_format=input_format)


def _broken_model(tmp_path) -> str:
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    return str(folder)


def _no_weights(dirs, tmp_path) -> str:
    """A readable config and tokenizer, but no weights."""
    import shutil

    folder = tmp_path / "no-weights"
    shutil.copytree(dirs["bert"], folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    return str(folder)


@pytest.mark.parametrize("kind,call,message", [
    ("bad param", lambda dirs, tmp: ensure_explainer(
        str(dirs["bert"]), RunRequest.from_params({"max_evals": 1}), Settings.from_env()),
     "max_evals=1 must be an integer from 2 to 10000"),
    ("bad drift param", lambda dirs, tmp: DriftRule.from_params(
        {"drift_baseline_from": "2026-05-03", "drift_baseline_to": "2026-05-02"}),
     "drift baseline range is empty: 2026-05-03 is after 2026-05-02"),
    ("missing partition", lambda dirs, tmp: _prepare(str(dirs["bert"]), day="2026-04-02"),
     "does not exist"),
    ("wrong input format", lambda dirs, tmp: _prepare(str(dirs["bert"]), input_format="csv"),
     r"cannot read input .* as csv: .*; files seen: part-0.parquet"),
    ("unknown class", lambda dirs, tmp: _prepare(str(dirs["distilbert"]), "POSITIVE"),
     "class_to_plot 'POSITIVE' is not a class"),
    ("unreadable model", lambda dirs, tmp: _prepare(_broken_model(tmp)),
     "cannot read the classifier config"),
    ("model without weights", lambda dirs, tmp: ensure_explainer(
        _no_weights(dirs, tmp), RunRequest(max_evals=20), Settings.from_env()), "it has no safetensors weights"),
])
def test_deterministic_errors_fail_without_retry(kind, call, message, day_partition,
                                                 tiny_family_dirs, tmp_path, tracking_uri):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=message):
        fail_fast(call)(tiny_family_dirs, tmp_path)


def test_a_transient_fault_keeps_its_retries(day_partition, monkeypatch):
    """MLflow away: the error propagates as is (not AirflowFailException), so Airflow retries."""
    from airflow.sdk.exceptions import AirflowFailException
    from mlflow.exceptions import MlflowException

    from dlexplain.base.processes import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(MlflowException) as raised:
        fail_fast(_prepare)("models:/sentiment-classifier@champion")
    assert not isinstance(raised.value, AirflowFailException)
    # the same when the server goes away between resolving the version and reading its config
    from dlexplain.tracking.sources import SourceModel, source_labels

    pinned = SourceModel(uri="models:/sentiment-classifier/1", key="k",
                         registered_name="sentiment-classifier", registered_version="1")
    with pytest.raises(MlflowException) as raised:
        fail_fast(source_labels)(pinned)
    assert not isinstance(raised.value, AirflowFailException)


def test_a_bad_class_fails_prepare_within_seconds(airflow_db, tracking_uri, dlexplain_home,
                                                  day_partition, tiny_family_dirs):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    started = time.monotonic()
    run = dag.test(logical_date=pendulum.parse(DAY),
                   run_conf={"source_model": str(tiny_family_dirs["distilbert"]),
                             "class_to_plot": "POSITIVE"})
    assert time.monotonic() - started < 60
    assert run.state == "failed"
    prepare = run.get_task_instance("prepare")
    assert prepare.state == "failed" and prepare.try_number == 1, "failed, not up for retry"
    assert run.get_task_instance("log_explainer").state == "upstream_failed", \
        "nothing is logged for a run that cannot start"


@pytest.mark.parametrize("job,deterministic", [("dlexplain", True), ("crashing", False)])
def test_the_jobs_own_refusal_fails_without_retry(job, deterministic, tmp_path):
    """spark-submit exits 2 (the job's DataError): AirflowFailException with the job's message.
    Any other exit code stays a plain AirflowException, which Airflow retries."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from dlexplain.spark import application_path

    from fail_fast import BatchExplainOperator

    application = application_path()
    if job == "crashing":  # a failure the job did not diagnose (e.g. an executor lost)
        application = str(tmp_path / "crash.py")
        Path(application).write_text("raise SystemExit(3)\n")
    operator = BatchExplainOperator(
        task_id="batch_explain", conn_id="spark_default", application=application,
        application_args=["--model-uri", str(tmp_path / "no-model"),
                          "--input", str(tmp_path / "missing.parquet"),
                          "--output", str(tmp_path / "out")])
    with pytest.raises(AirflowException) as raised:
        operator.execute({})
    assert isinstance(raised.value, AirflowFailException) is deterministic
    if deterministic:
        assert str(raised.value).startswith("dlexplain batch_explain: error: input ")
        assert str(raised.value).endswith("does not exist")
