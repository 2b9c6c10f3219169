"""The quality tasks of the ``explain_reviews`` DAG: what a night's explanations say as a whole
(:func:`measure_night`) and whether they drifted from their baseline (:func:`check_drift`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dlexplain.base.records import Record
from dlexplain.errors import DataError
from dlexplain.pipelines.partitions import PartitionPlan
from dlexplain.spark.output import read_audit, read_output

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NightQuality(Record):
    """What one night's explanations say as a whole (logged to the night and trend runs)."""

    metrics: dict
    importance: str  #: artifact path of the importance table in the night run


@dataclass(frozen=True)
class DriftCheck(Record):
    """Tonight against its baseline: ``drift``, ``stable`` or ``no_baseline``."""

    status: str
    score: float | None
    threshold: float
    baseline_nights: list
    report_url: str | None

    @property
    def drifted(self) -> bool:
        return self.status == "drift"


def measure_night(*, dag_id: str, run_id: str, plan: PartitionPlan) -> NightQuality:
    """The night's global token importance (table, top tokens, signed plot per class) and its
    metrics (rows, errors, mean faithfulness, and a fast+audit night's ``audit_*`` fidelity of
    the fast rows to the exact audit rows; the largest additivity error and the rows refused
    over every row of the night), into the night run and the DAG's trend run."""
    from dlexplain.explain.table import read_explanations, summarize
    from dlexplain.fast.fidelity import audit_fidelity
    from dlexplain.quality import faithfulness
    from dlexplain.quality.importance import classes, token_importance
    from dlexplain.quality.report import signed_importance_png
    from dlexplain.tracking.quality_runs import log_importance, log_night_metrics

    results = read_explanations(read_output(plan.output))
    table = token_importance(results)
    plots = {
        name: signed_importance_png(table, name, title=f"{name}, night {plan.ds}")
        for name in classes(table)
    }
    path = log_importance(run_id, table, plots)
    counts = summarize(results)
    audit = read_audit(plan.output)
    metrics = {
        "rows_total": counts.rows,
        "rows_failed_total": counts.failed,
        "rows_refused_total": counts.refused,
        "max_additivity_error": counts.max_additivity_error or 0.0,
        **faithfulness.summarize(results),
        **audit_fidelity(results, [] if audit is None else read_explanations(audit)),
    }
    log_night_metrics(dag_id, plan.ds, run_id, metrics)
    return NightQuality(metrics=metrics, importance=path)


def check_drift(
    *,
    dag_id: str,
    run_id: str,
    ds: str,
    threshold: float,
    nights: int,
    date_from: str | None = None,
    date_to: str | None = None,
) -> DriftCheck:
    """Compare tonight's importance with the baseline (the ``nights`` latest nights before, or
    the pinned ``[date_from, date_to]``), log the report and the score; nights explained with
    other classes, or by another unit (granularity), are left out of the baseline."""
    from dlexplain.quality.drift import compare
    from dlexplain.quality.importance import classes, pool
    from dlexplain.quality.report import drift_html
    from dlexplain.tracking.quality_runs import (
        baseline_runs,
        granularity_of,
        importance_of,
        log_drift,
        log_night_metrics,
        metric_name,
    )

    if date_from and date_to and date_from > date_to:
        raise DataError(f"drift baseline range is empty: {date_from} is after {date_to}")
    tonight = importance_of(run_id)
    found = [
        (night, importance_of(night_run))
        for night, night_run in baseline_runs(
            dag_id,
            ds,
            nights=nights,
            date_from=date_from,
            date_to=date_to,
            granularity=granularity_of(run_id),
        )
    ]
    usable = [(night, t) for night, t in found if set(classes(t)) == set(classes(tonight))]
    if not usable or tonight.empty:
        logger.info(
            "night %s: no baseline to compare with (%d nights found, %d with the same classes)",
            ds,
            len(found),
            len(usable),
        )
        return DriftCheck(
            status="no_baseline",
            score=None,
            threshold=threshold,
            baseline_nights=[],
            report_url=None,
        )
    baseline = pool(t for _, t in usable)
    drift = compare(tonight, baseline, baseline_nights=[n for n, _ in usable], threshold=threshold)
    url = log_drift(run_id, drift_html(drift, tonight, baseline, night=ds), drift.to_json_dict())
    log_night_metrics(
        dag_id,
        ds,
        run_id,
        {
            "drift_ndcg": drift.score,
            **{f"drift_ndcg_{metric_name(c.class_name)}": c.ndcg for c in drift.classes},
        },
    )
    status = "drift" if drift.drifted else "stable"
    logger.log(
        logging.WARNING if drift.drifted else logging.INFO,
        "night %s: nDCG@%d %.3f against %d nights (threshold %.2f): %s; report %s",
        ds,
        drift.top_k,
        drift.score,
        len(usable),
        threshold,
        status,
        url,
    )
    return DriftCheck(
        status=status,
        score=drift.score,
        threshold=threshold,
        baseline_nights=[n for n, _ in usable],
        report_url=url,
    )
