"""The quality tasks of the ``explain_reviews`` DAG: what a night's explanations say as a whole
(:func:`measure_night`) and whether they drifted from their baseline (:func:`check_drift`)."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

from dlexplain.base.records import Record
from dlexplain.explain.request import Method, RunRequest
from dlexplain.pipelines.partitions import PartitionPlan
from dlexplain.quality.drift import DRIFT, NO_BASELINE
from dlexplain.quality.rule import DriftRule
from dlexplain.spark.output import read_audit, read_output

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NightQuality(Record):
    """What one night's explanations say as a whole (logged to the night and trend runs)."""

    metrics: dict
    importance: str  #: artifact path of the importance table in the night run


@dataclass(frozen=True)
class DriftCheck(Record):
    """Tonight against its baseline: ``drift``, ``stable``, ``too_small`` or ``no_baseline``,
    with the score, the noise floor (``p_value``; ``chance_low``: the score tonight's must be
    below for a p-value below ``alpha``) and the nights pooled and passed over."""

    status: str
    score: float | None
    threshold: float
    alpha: float
    p_value: float | None
    chance_low: float | None
    texts: int
    baseline_texts: int
    baseline_nights: list
    left_out: list  #: ``[night, why]`` of nights not pooled
    report_url: str | None

    @property
    def drifted(self) -> bool:
        return self.status == DRIFT


def measure_night(*, dag_id: str, run_id: str, plan: PartitionPlan) -> NightQuality:
    """The night's global token importance (table, top tokens, signed plot per class) and its
    metrics (rows, errors, mean faithfulness, a fast+audit night's ``audit_*`` fidelity of the
    fast rows to the exact audit rows, a fast+verify night's share of rows explained again
    exactly; the largest additivity error and the rows refused over every row of the night),
    into the night run and the DAG's trend run."""
    from dlexplain.explain.table import read_explanations, summarize
    from dlexplain.fast.fidelity import audit_fidelity
    from dlexplain.quality import faithfulness
    from dlexplain.quality.importance import aggregate, classes, text_tokens
    from dlexplain.quality.report import signed_importance_png
    from dlexplain.tracking.quality_runs import log_importance, log_night_metrics

    results = read_explanations(read_output(plan.output))
    texts = text_tokens(results)
    table = aggregate(texts)
    plots = {
        name: signed_importance_png(table, name, title=f"{name}, night {plan.ds}")
        for name in classes(table)
    }
    path = log_importance(run_id, table, plots, texts)
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
    if RunRequest.from_json(plan.request).method == Method.FAST_VERIFY:
        explained = [r for r in results if r.ok]
        again = sum(r.method == Method.EXACT for r in explained)
        metrics["verify_reexplained_rows"] = again
        metrics["verify_reexplained_share"] = again / len(explained) if explained else 0.0
    log_night_metrics(dag_id, plan.ds, run_id, metrics)
    return NightQuality(metrics=metrics, importance=path)


def check_drift(*, dag_id: str, run_id: str, ds: str, rule: DriftRule) -> DriftCheck:
    """Compare tonight's explanations with the baseline ``rule`` chooses
    (:func:`dlexplain.pipelines.drift_baseline.choose_baseline`), above the noise floor; log the
    report and the metrics."""
    from dlexplain.pipelines.drift_baseline import choose_baseline
    from dlexplain.quality.drift import compare
    from dlexplain.quality.importance import aggregate, classes, pool, text_count
    from dlexplain.quality.report import drift_html
    from dlexplain.tracking.quality_runs import log_drift, log_night_metrics, metric_name, texts_of

    tonight = texts_of(run_id)
    baseline = choose_baseline(dag_id, ds, run_id, rule, classes(tonight), texts_of)
    left_out = baseline.left_out
    if not baseline.nights or tonight.empty:
        logger.info(
            "night %s: no baseline to compare with (passed over: %s)", ds, left_out or "none"
        )
        return DriftCheck(
            status=NO_BASELINE,
            score=None,
            threshold=rule.threshold,
            alpha=rule.alpha,
            p_value=None,
            chance_low=None,
            texts=text_count(tonight),
            baseline_texts=0,
            baseline_nights=[],
            left_out=left_out,
            report_url=None,
        )
    pooled = pool(baseline.tables)
    drift = compare(
        tonight,
        pooled,
        baseline_nights=baseline.nights,
        threshold=rule.threshold,
        alpha=rule.alpha,
        min_texts=rule.min_texts,
        seed=zlib.crc32(ds.encode()),
    )
    report = drift_html(drift, aggregate(tonight), aggregate(pooled), night=ds, left_out=left_out)
    url = log_drift(run_id, report, {**drift.to_json_dict(), "left_out": left_out})
    chance = drift.chance
    metrics = {
        "drift_ndcg": drift.score,
        **{f"drift_ndcg_{metric_name(c.class_name)}": c.ndcg for c in drift.classes},
    }
    if chance is not None:
        metrics |= {"drift_p_value": chance.p_value, "drift_chance_low": chance.low}
    log_night_metrics(dag_id, ds, run_id, metrics)
    logger.log(
        logging.WARNING if drift.drifted else logging.INFO,
        "night %s: nDCG@%d %.3f against %d nights (%d texts; threshold %.2f; chance: %s): %s; "
        "report %s",
        ds,
        drift.top_k,
        drift.score,
        len(baseline.nights),
        drift.baseline_texts,
        rule.threshold,
        "too few texts" if chance is None else f"p={chance.p_value:.3f}, low {chance.low:.3f}",
        drift.status,
        url,
    )
    return DriftCheck(
        status=drift.status,
        score=drift.score,
        threshold=rule.threshold,
        alpha=rule.alpha,
        p_value=None if chance is None else chance.p_value,
        chance_low=None if chance is None else chance.low,
        texts=drift.texts,
        baseline_texts=drift.baseline_texts,
        baseline_nights=list(drift.baseline_nights),
        left_out=left_out,
        report_url=url,
    )
