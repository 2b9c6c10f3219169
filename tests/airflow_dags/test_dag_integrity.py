"""DAG integrity: every DAG imports, and has tags, an owner, retries, a time bound and docs."""

from __future__ import annotations

import pytest

from dlexplain.config import Settings
from tests.conftest import REPO

#: tasks that must not retry: a failed redeploy has rolled back; the next scheduled run retries
NO_RETRIES = {("eaas_redeploy", "redeploy")}
#: the long jobs, bounded by DLEXPLAIN_JOB_TIMEOUT; every other task by DLEXPLAIN_TASK_TIMEOUT
JOBS = {("explain_reviews", "batch_explain"), ("train_fast_explainer", "train")}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"explain_reviews", "eaas_redeploy", "drift_alert",
            "train_fast_explainer"} <= set(dagbag.dag_ids)


def test_every_dag_is_documented_owned_retried_and_bounded(dagbag):
    assert dagbag.dags
    settings = Settings.from_env()
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md and dag.doc_md.strip(), dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            expected = 0 if (dag_id, task.task_id) in NO_RETRIES else 1
            assert (task.retries or 0) >= expected, (dag_id, task.task_id)
            bound = settings.schedule.job_timeout if (dag_id, task.task_id) in JOBS else (
                settings.schedule.task_timeout)
            assert task.execution_timeout.total_seconds() == bound, (dag_id, task.task_id)


def test_explain_reviews_wiring(dagbag):
    dag = dagbag.dags["explain_reviews"]
    # one run at a time: a backfill explains nights in order, each measured against earlier ones
    assert dag.catchup is False and dag.max_active_runs == 1
    batch = dag.get_task("batch_explain")
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    assert isinstance(batch, SparkSubmitOperator) and batch._conn_id == "spark_default"
    assert batch.application.endswith("dlexplain/spark/job.py")
    assert {t.task_id for t in batch.upstream_list} == {"prepare", "log_explainer"}
    # the Asset is updated once the night is catalogued in MLflow (what train_fast_explainer reads)
    assert not batch.outlets
    assert [a.name for a in dag.get_task("open_explanation_run").outlets] == [
        "dlexplain_explained_reviews"]
    assert dag.get_task("log_batch_artifacts").upstream_task_ids == {"open_explanation_run"}
    assert set(dag.params) >= {"source_model", "dataset_path_template", "max_evals",
                               "rows_per_batch", "class_to_plot", "row_limit", "text_column",
                               "id_column", "explainer_name", "faithfulness", "drift_threshold",
                               "drift_alpha", "drift_min_texts", "drift_baseline_nights",
                               "drift_baseline_from", "drift_baseline_to"}
    assert dag.params["faithfulness"] is True and dag.params["drift_threshold"] == 0.9
    assert dag.params["class_to_plot"] is None, "empty: every class a batch predicts"
    assert dag.get_task("log_explainer").upstream_task_ids == {"prepare"}
    # values cross task seams as XComArgs of the steps' records, not Jinja fragments
    from airflow.sdk.definitions.xcom_arg import XComArg

    from dlexplain.model.refs import ExplainerRef
    from dlexplain.pipelines.partitions import PartitionPlan

    pulled = [a for a in batch.application_args if isinstance(a, XComArg)]
    assert [(a.operator.task_id, a.key) for a in pulled] == [
        ("log_explainer", "model_uri"), ("prepare", "input"), ("prepare", "input_format"),
        ("prepare", "output"), ("prepare", "request")]
    assert {a.key for a in pulled} <= set(PartitionPlan.__dataclass_fields__) | set(
        ExplainerRef.__dataclass_fields__)
    assert not any(isinstance(a, str) and "xcom_pull" in a for a in batch.application_args)
    assert dag.params["max_evals"] is None, "empty: the DLEXPLAIN_MAX_EVALS setting applies"
    # the run's settings reach the job as one checked record, never as templated params
    assert not any(isinstance(a, str) and "params." in a for a in batch.application_args
                   if a not in ("{{ params.text_column }}", "{{ params.id_column }}",
                                "{{ params.row_limit or 0 }}"))
    from dlexplain.explain.request import param_schemas
    from dlexplain.quality.rule import DriftRule
    from dlexplain.quality.rule import param_schemas as drift_schemas

    for name, schema in (param_schemas() | drift_schemas()).items():
        assert dag.params.get_param(name).schema | schema == dag.params.get_param(name).schema, name
    assert DriftRule.from_params(dict(dag.params)) == DriftRule(), "the forms' defaults: the rule's"


def test_quality_tasks_and_the_drift_alert(dagbag):
    dag = dagbag.dags["explain_reviews"]
    assert dag.get_task("measure_night").upstream_task_ids == {"prepare", "open_explanation_run"}
    assert dag.get_task("check_drift").upstream_task_ids == {"prepare", "open_explanation_run",
                                                             "measure_night"}
    (alias,) = dag.get_task("check_drift").outlets  # emits only when the night drifted
    assert type(alias).__name__ == "AssetAlias" and alias.name == "dlexplain_drift"
    alert = dagbag.dags["drift_alert"]
    assert alert.timetable.asset_condition.name == "dlexplain_drift_detected"


def test_eaas_redeploy_wiring(dagbag):
    dag = dagbag.dags["eaas_redeploy"]
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.schedule == "*/10 * * * *"
    sensor = dag.get_task("wait_for_new_explainer")
    assert sensor.task_type == "NewExplainerSensor" and sensor.mode == "reschedule"
    assert sensor.soft_fail and sensor.poke_interval == 60 and sensor.timeout == 540
    assert dag.get_task("redeploy").upstream_task_ids == {"wait_for_new_explainer"}
    assert dag.get_task("redeploy").retries == 0
    assert dag.get_task("promote").upstream_task_ids == {"redeploy"}
    assert set(dag.params) == {"classifier", "registered_model", "alias"}
    assert dag.params["classifier"] == "models:/sentiment-classifier@champion"
    assert dag.params["registered_model"] is None  # derived: sentiment-explainer


def test_schedule_none_means_only_triggered_runs(monkeypatch):
    """``DLEXPLAIN_SCHEDULE=none``: the DAG is parsed without a schedule (no run on unpause)."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DLEXPLAIN_SCHEDULE", "none")
    dag = DagBag(dag_folder=str(REPO / "dags" / "explain_reviews.py")).dags["explain_reviews"]
    assert dag.schedule is None and type(dag.timetable).__name__ == "NullTimetable"
