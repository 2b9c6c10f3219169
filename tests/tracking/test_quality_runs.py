"""Quality in MLflow: importance tables round-trip, baselines are chosen by date, the trend."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from dlexplain.errors import DataError
from dlexplain.pipelines.night_quality import check_drift
from dlexplain.quality.importance import token_importance
from dlexplain.tracking.quality_runs import (
    baseline_runs,
    importance_of,
    log_importance,
    log_night_metrics,
    night_step,
    trend_run,
)
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_KIND,
    TAG_LOGICAL_DATE,
    find_or_create_run,
)
from tests.quality.test_drift import MOVIES, PHONES, night

NIGHTS = ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-05", "2026-05-06"]


@pytest.fixture()
def nights(tracking_uri, unique):
    """Five nights of DAG ``dag-<unique>``: movie reviews, the last one about phones."""
    dag_id = f"dag-{unique}"
    runs = {}
    for i, day in enumerate(NIGHTS):
        run_id = find_or_create_run(EXPLANATIONS_EXPERIMENT, key={
            TAG_KIND: "explanations", TAG_DAG_ID: dag_id, TAG_LOGICAL_DATE: day})
        vocabulary = PHONES if day == NIGHTS[-1] else MOVIES
        log_importance(run_id, token_importance(night(vocabulary, 30, i)), {})
        runs[day] = run_id
    return dag_id, runs


def test_importance_round_trips(nights):
    _, runs = nights
    table = importance_of(runs[NIGHTS[0]])
    pd.testing.assert_frame_equal(table, token_importance(night(MOVIES, 30, 0)))


def test_baseline_nights_by_count_or_pinned_range(nights):
    dag_id, runs = nights
    assert baseline_runs(dag_id, "2026-05-05", nights=2) == [
        ("2026-05-02", runs["2026-05-02"]), ("2026-05-03", runs["2026-05-03"])]
    assert [d for d, _ in baseline_runs(dag_id, "2026-05-01", nights=7)] == []
    # a pinned range (open at either end) never includes the night itself
    assert [d for d, _ in baseline_runs(dag_id, "2026-05-02", nights=7, date_from="2026-05-01",
                                        date_to="2026-05-05")] == [
        "2026-05-01", "2026-05-03", "2026-05-05"]
    assert [d for d, _ in baseline_runs(dag_id, "2026-05-06", nights=1,
                                        date_from="2026-05-03")] == ["2026-05-03", "2026-05-05"]


def test_check_drift_from_the_logged_nights(nights):
    dag_id, runs = nights
    stable = check_drift(dag_id=dag_id, run_id=runs["2026-05-05"], ds="2026-05-05",
                         threshold=0.9, nights=3)
    assert stable.status == "stable" and stable.baseline_nights == NIGHTS[:3]
    drifted = check_drift(dag_id=dag_id, run_id=runs["2026-05-06"], ds="2026-05-06",
                          threshold=0.9, nights=1, date_from="2026-05-01", date_to="2026-05-02")
    assert drifted.status == "drift" and drifted.score < 0.5
    assert drifted.baseline_nights == NIGHTS[:2]
    assert drifted.report_url.endswith(f"/runs/{runs['2026-05-06']}/artifacts/quality/drift.html")
    first = check_drift(dag_id=dag_id, run_id=runs["2026-05-01"], ds="2026-05-01",
                        threshold=0.9, nights=7)
    assert first.status == "no_baseline" and first.score is None
    with pytest.raises(DataError, match="is after"):
        check_drift(dag_id=dag_id, run_id=runs["2026-05-01"], ds="2026-05-01", threshold=0.9,
                    nights=7, date_from="2026-05-03", date_to="2026-05-02")
    trend = trend_run(dag_id)
    history = MlflowClient().get_metric_history(trend, "drift_ndcg")
    assert {m.step for m in history} == {night_step("2026-05-05")[0], night_step("2026-05-06")[0]}


def test_night_metrics_go_to_the_night_and_the_trend(tracking_uri, unique):
    dag_id = f"dag-{unique}"
    run_id = find_or_create_run(EXPLANATIONS_EXPERIMENT, key={
        TAG_KIND: "explanations", TAG_DAG_ID: dag_id, TAG_LOGICAL_DATE: "2026-05-01"})
    log_night_metrics(dag_id, "2026-05-01", run_id, {"rows_total": 7})
    trend = trend_run(dag_id)
    step, timestamp = night_step("2026-05-01")
    (point,) = MlflowClient().get_metric_history(trend, "rows_total")
    assert (point.value, point.step, point.timestamp) == (7, step, timestamp)
    assert MlflowClient().get_run(run_id).data.tags["mlflow.parentRunId"] == trend
    assert trend_run(dag_id) == trend, "one trend run per DAG"
