"""explain_reviews end to end with dag.test(): live MLflow server, Spark local[2], real Parquet."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pendulum
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from dlexplain.defaults.data import partition_path
from dlexplain.explain.table import read_explanations
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_LOGICAL_DATE,
    experiment_id,
)
from tests.checks import assert_additive, run_failures

pytestmark = pytest.mark.slow
#: a night no other test that shares the session's MLflow server explains
DAY = date(2026, 1, 9)
LOGICAL_DATE = pendulum.datetime(DAY.year, DAY.month, DAY.day, tz="UTC")


@pytest.fixture()
def partition(dlexplain_home, holdout_reviews):
    """8 held-out reviews (cut short to keep the test quick) plus one bad row."""
    frame = holdout_reviews.head(8)[["id", "text", "label"]].copy()
    frame["text"] = frame["text"].str.slice(0, 240)
    bad = pd.DataFrame({"id": ["bad-0"], "text": ["   "], "label": ["NEGATIVE"]})
    path = partition_path(dlexplain_home / "data", DAY)
    path.parent.mkdir(parents=True)
    pd.concat([frame, bad]).to_parquet(path, index=False)
    return path


def _explanation_runs():
    client = MlflowClient()
    return client.search_runs([experiment_id(EXPLANATIONS_EXPERIMENT)],
                              filter_string=where({tag(TAG_DAG_ID): "explain_reviews",
                                                   tag(TAG_LOGICAL_DATE): str(DAY)}))


def _metric_history(run_id: str, key: str) -> list[float]:
    history = MlflowClient().get_metric_history(run_id, key)
    return [m.value for m in sorted(history, key=lambda m: m.timestamp)]


def test_dag_end_to_end_and_rerun(airflow_db, tracking_uri, dlexplain_home, partition,
                                  default_model):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    conf = {"max_evals": 40, "rows_per_batch": 4}
    run = dag.test(logical_date=LOGICAL_DATE, run_conf=conf)
    assert run.state == "success", run_failures(run)

    explainer_run_id = run.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer",
                                                                       key="run_id")
    assert MlflowClient().get_run(explainer_run_id).data.tags["dlexplain.kind"] == "explainer"
    registered = run.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer",
                                                                 key="registered_model")
    assert registered == "sentiment-explainer", "the default classifier's own explainer name"

    output = dlexplain_home / "explanations" / "reviews" / f"ds={DAY}"
    table = pq.read_table(output)
    assert table.num_rows == 9
    assert table.column_names == ["id", "text", "label", "explanation"]
    results = dict(zip(table.column("id").to_pylist(), read_explanations(table)))
    assert "empty" in results["bad-0"].error
    good = [r for key, r in results.items() if key != "bad-0"]
    assert all(r.ok for r in good)
    assert_additive(good)
    assert all(r.faithfulness is not None for r in good), "faithfulness is on by default"
    assert {r for r in table.column("explanation").combine_chunks().field("explainer_run_id")
            .to_pylist()} == {explainer_run_id}

    runs = _explanation_runs()
    assert len(runs) == 1
    tags = runs[0].data.tags
    assert tags["dlexplain.explainer_run_id"] == explainer_run_id
    assert tags["dlexplain.rows"] == "9" and tags["dlexplain.rows_failed"] == "1"
    assert tags["airflow.run_id"] == run.run_id
    artifacts = MlflowClient().list_artifacts(runs[0].info.run_id, f"explanations/ds={DAY}")
    batches = sorted(a.path.rsplit("/", 1)[-1] for a in artifacts)
    assert batches == ["batch-0000", "batch-0001", "batch-0002"]
    files = {a.path.rsplit("/", 1)[-1] for a in MlflowClient().list_artifacts(
        runs[0].info.run_id, f"explanations/ds={DAY}/batch-0000")}
    assert {"shap_values.npz", "base_values.npy", "summary.json"} <= files
    batch = [r for r in read_explanations(table.slice(0, 4)) if r.ok]  # batch 0, output order
    assert {f for f in files if f.startswith("bar_")} == {f"bar_{r.label}.png" for r in batch}
    assert f"first_row_{batch[0].label}.png" in files

    assert _metric_history(runs[0].info.run_id, "cache_hits") == [0]
    assert _metric_history(runs[0].info.run_id, "model_evaluations")[0] > 8 * 30

    again = dag.test(logical_date=LOGICAL_DATE, run_conf=conf)
    assert again.state == "success", run_failures(again)
    assert len(_explanation_runs()) == 1, "the same logical date reuses its explanation run"
    rerun = pq.read_table(output)
    assert rerun.num_rows == 9, "re-running replaces, never duplicates"
    # texts the explainer already explained cost no explanation, only their faithfulness
    assert 0 < _metric_history(runs[0].info.run_id, "model_evaluations")[1] <= 20 * 8
    assert _metric_history(runs[0].info.run_id, "cache_hits")[1] == 8
    before = {k: r.to_json() for k, r in results.items()}
    after = dict(zip(rerun.column("id").to_pylist(),
                     (r.to_json() for r in read_explanations(rerun))))
    assert after == before, "cached explanations are identical to computed ones"
    leftovers = [p.name for p in output.parent.iterdir() if p.name != output.name]
    assert leftovers == [], leftovers
