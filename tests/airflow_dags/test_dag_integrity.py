"""DAG integrity: every DAG imports, and has tags, an owner, retries and docs."""

from __future__ import annotations

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "explain_reviews" in dagbag.dag_ids


def test_every_dag_is_documented_owned_and_retried(dagbag):
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md and dag.doc_md.strip(), dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            assert (task.retries or 0) >= 1, (dag_id, task.task_id)


def test_explain_reviews_wiring(dagbag):
    dag = dagbag.dags["explain_reviews"]
    assert dag.catchup is False and dag.max_active_runs == 2
    batch = dag.get_task("batch_explain")
    assert batch.task_type == "SparkSubmitOperator" and batch._conn_id == "spark_default"
    assert batch.application.endswith("dlexplain/jobs/batch_explain.py")
    assert {t.task_id for t in batch.upstream_list} == {"prepare", "log_explainer"}
    assert [a.name for a in batch.outlets] == ["dlexplain_explained_reviews"]
    assert dag.get_task("log_batch_artifacts").upstream_task_ids == {"open_explanation_run"}
    assert set(dag.params) >= {"source_model", "dataset_path_template", "max_evals",
                               "rows_per_batch", "class_to_plot", "row_limit"}
