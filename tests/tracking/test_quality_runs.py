"""Quality in MLflow: importance and per-text tables round-trip; the baseline is chosen by date,
by classifier (or a pinned range) and by what was logged; each drift param changes the outcome
of ``check_drift``; the trend."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from dlexplain.errors import ConfigError
from dlexplain.pipelines.drift_baseline import choose_baseline
from dlexplain.pipelines.night_quality import check_drift
from dlexplain.quality.importance import aggregate, text_tokens
from dlexplain.quality.rule import DriftRule
from dlexplain.tracking.quality_runs import (
    TAG_TEXTS,
    log_importance,
    log_night_metrics,
    night_step,
    texts_of,
    trend_run,
)
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_KIND,
    TAG_LOGICAL_DATE,
    TAG_METHOD,
    TAG_SOURCE_KEY,
    find_or_create_run,
)
from tests.quality.test_drift import MOVIES, PHONES, night

#: the nights of one DAG, and the classifier that explained each: two classifiers with the same
#: labels alternate; the last night is about phones
NIGHTS = {"2026-05-01": "A", "2026-05-02": "B", "2026-05-03": "A", "2026-05-04": "B",
          "2026-05-05": "A", "2026-05-06": "A"}
DAYS = list(NIGHTS)
#: enough texts for the rule's sample size (the nights have 30)
SMALL = DriftRule(min_texts=16)


@pytest.fixture()
def nights(tracking_uri, unique):
    """The nights of DAG ``dag-<unique>``, logged as ``measure_night`` logs them."""
    dag_id = f"dag-{unique}"
    runs = {}
    for i, (day, classifier) in enumerate(NIGHTS.items()):
        run_id = find_or_create_run(EXPLANATIONS_EXPERIMENT, key={
            TAG_KIND: "explanations", TAG_DAG_ID: dag_id, TAG_LOGICAL_DATE: day})
        MlflowClient().set_tag(run_id, TAG_SOURCE_KEY, f"sha256:{classifier}")
        texts = text_tokens(night(PHONES if day == DAYS[-1] else MOVIES, 30, i))
        log_importance(run_id, aggregate(texts), {}, texts)
        runs[day] = run_id
    return dag_id, runs


def _check(nights, day, rule=SMALL):
    dag_id, runs = nights
    return check_drift(dag_id=dag_id, run_id=runs[day], ds=day, rule=rule)


def test_tables_round_trip(nights):
    _, runs = nights
    texts = text_tokens(night(MOVIES, 30, 0))
    pd.testing.assert_frame_equal(texts_of(runs[DAYS[0]]), texts)
    files = {a.path for a in MlflowClient().list_artifacts(runs[DAYS[0]], "quality")}
    assert {"quality/importance.parquet", "quality/importance.json"} <= files


def test_baseline_by_classifier_count_and_pinned_range(nights):
    dag_id, runs = nights

    def days(day, **rule):
        return choose_baseline(dag_id, day, runs[day], DriftRule(**rule), ["NEGATIVE", "POSITIVE"],
                               texts_of)

    # two classifiers with the same labels, alternating: each night pools only its own
    chosen = days("2026-05-05")
    assert chosen.nights == ["2026-05-01", "2026-05-03"]
    pd.testing.assert_frame_equal(chosen.tables[0], texts_of(runs["2026-05-01"]))
    assert [d for d, _ in chosen.left_out] == ["2026-05-04", "2026-05-02"]
    assert all("another or an unknown classifier (sha256:B; tonight sha256:A)" == why
               for _, why in chosen.left_out)
    assert days("2026-05-04").nights == ["2026-05-02"]
    # drift_baseline_nights: the latest nights of the classifier
    assert days("2026-05-06", baseline_nights=2).nights == ["2026-05-03", "2026-05-05"]
    assert days("2026-05-01").nights == []
    # a pinned range (open at either end): every night in it, any classifier, never tonight
    assert days("2026-05-02", baseline_from="2026-05-01", baseline_to="2026-05-04").nights == [
        "2026-05-01", "2026-05-03", "2026-05-04"]
    assert days("2026-05-06", baseline_nights=1, baseline_from="2026-05-04").nights == [
        "2026-05-04", "2026-05-05"]
    # a night of the fast explainer is no baseline for an exact night
    MlflowClient().set_tag(runs["2026-05-03"], TAG_METHOD, "fast+audit")
    assert ["2026-05-03", "explained by the fast explainer, tonight by the exact"] in \
        days("2026-05-05").left_out
    # a night logged before per-text tables is passed over, and says why
    MlflowClient().delete_tag(runs["2026-05-01"], TAG_TEXTS)
    chosen = days("2026-05-05")
    assert chosen.nights == [] and ["2026-05-01", "logged before per-text tables: nothing to "
                                                  "compare"] in chosen.left_out


def test_each_drift_param_changes_the_outcome(nights):
    stable = _check(nights, "2026-05-05")
    assert stable.status == "stable" and stable.baseline_nights == ["2026-05-01", "2026-05-03"]
    assert stable.p_value > SMALL.alpha and stable.texts == 30 and stable.baseline_texts == 60
    drifted = _check(nights, "2026-05-06")
    assert drifted.status == "drift" and drifted.score < 0.5 and drifted.p_value < 0.01
    assert drifted.chance_low > drifted.score
    assert drifted.baseline_nights == ["2026-05-01", "2026-05-03", "2026-05-05"]
    assert drifted.report_url.endswith(f"/runs/{nights[1]['2026-05-06']}/artifacts/quality/"
                                       "drift.html")
    # drift_threshold: a score above it is no drift, however unlikely by chance
    assert _check(nights, "2026-05-06", DriftRule(min_texts=16, threshold=0.0)).status == "stable"
    # drift_min_texts: too few texts tonight (30) is too small to tell, and never an alert
    small = _check(nights, "2026-05-06", DriftRule())
    assert small.status == "too_small" and small.p_value is None and DriftRule().min_texts > 30
    # drift_baseline_nights: one night of the classifier
    assert _check(nights, "2026-05-06", DriftRule(min_texts=16, baseline_nights=1)
                  ).baseline_nights == ["2026-05-05"]
    # a pinned range pools other classifiers' nights too
    pinned = _check(nights, "2026-05-06", DriftRule(min_texts=16, baseline_from="2026-05-02",
                                                    baseline_to="2026-05-02"))
    assert pinned.baseline_nights == ["2026-05-02"] and pinned.status == "drift"
    # the first night has nothing to compare with
    first = _check(nights, "2026-05-01")
    assert first.status == "no_baseline" and first.score is None
    with pytest.raises(ConfigError, match="is after"):
        DriftRule(baseline_from="2026-05-03", baseline_to="2026-05-02")
    # the report says which nights were pooled and why the others were not
    report = MlflowClient().download_artifacts(nights[1]["2026-05-05"], "quality/drift.json")
    logged = pd.read_json(report, typ="series")
    assert logged["status"] == "stable" and logged["chance"]["draws"] == 499
    assert [d for d, _ in logged["left_out"]] == ["2026-05-04", "2026-05-02"]
    trend = trend_run(nights[0])
    steps = {m.step for m in MlflowClient().get_metric_history(trend, "drift_p_value")}
    assert steps == {night_step(day)[0] for day in ("2026-05-05", "2026-05-06")}


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
