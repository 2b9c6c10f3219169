"""The steps of the ``explain_reviews`` DAG, one function per task, free of Airflow imports.

Each step takes and returns frozen records (:class:`~dlexplain.base.records.Record`): the DAG
hands them from task to task as XCom JSON (``to_json_dict``/``from_json_dict``), and the Spark
job's :class:`~dlexplain.spark.summary.JobSummary` comes back the same way, so writer and reader
share one definition of every value that crosses a seam.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from dlexplain.base.records import Record
from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.spark import AUDIT_DIR, METHODS

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
DATASET_TEMPLATE = "{data_dir}/reviews/ds={ds}"
OUTPUT_TEMPLATE = "{home}/explanations/reviews/ds={ds}"


@dataclass(frozen=True)
class PartitionPlan(Record):
    """Where one day's input and output live, and what the Spark job needs to know."""

    ds: str
    partition: str
    input: str
    output: str
    tracking_uri: str
    python: str
    #: how the input is read: ``parquet``, ``csv`` or ``json`` (given, or detected in prepare)
    input_format: str = "parquet"


@dataclass(frozen=True)
class BatchItem(Record):
    """Consecutive batches of the output to log into the explanation run (a mapped task's input):
    one batch each, unless the night has more batches than Airflow maps (see :func:`batch_items`)."""

    run_id: str
    output: str
    partition: str
    batch: int  #: the first batch
    rows_per_batch: int
    batches: int = 1
    #: the metric points' time (ms): the same in every retry of the item, so MLflow keeps one
    timestamp_ms: int | None = None

    @property
    def numbers(self) -> range:
        """The item's batch numbers."""
        return range(self.batch, self.batch + self.batches)

    def prefix(self, number: int) -> str:
        """Where batch ``number``'s artifacts go in the run."""
        from dlexplain.tracking.runs import batch_prefix

        return batch_prefix(self.partition, number)


def batch_items(*, run_id: str, output: str, partition: str, rows: int, rows_per_batch: int,
                max_items: int, timestamp_ms: int | None = None) -> list[BatchItem]:
    """The night's batches as at most ``max_items`` work items (Airflow's ``max_map_length``:
    a mapped task with more fails), consecutive batches sharing an item when there are more."""
    batches = max(1, -(-rows // rows_per_batch))
    per_item = -(-batches // max_items)
    return [BatchItem(run_id=run_id, output=output, partition=partition, batch=first,
                      rows_per_batch=rows_per_batch, batches=min(per_item, batches - first),
                      timestamp_ms=timestamp_ms)
            for first in range(0, batches, per_item)]


@dataclass(frozen=True)
class BatchSummary(Record):
    """What one logged batch held."""

    rows: int
    explained: int
    failed: int
    max_additivity_error: float | None


#: A template's placeholders: a name in braces; anything else in braces is refused.
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def fill_template(template: str, fields: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``fields`` replaced by its value, literally (no
    format spec, attribute or index is ever evaluated); :class:`DataError` for any other text in
    braces or a lone brace."""
    def value(match: re.Match) -> str:
        if match[1] not in fields:
            raise DataError(f"bad path template {template!r}: {{{match[1]}}} is not a placeholder;"
                            f" use {', '.join('{' + name + '}' for name in fields)}")
        return fields[match[1]]

    filled = _PLACEHOLDER.sub(value, template)
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise DataError(f"bad path template {template!r}: a brace that opens or closes no "
                        f"placeholder; use {', '.join('{' + name + '}' for name in fields)}")
    return filled


def plan_partition(ds: str, dataset_template: str, output_template: str,
                   settings: Settings, *, text_column: str = "text",
                   input_format: str | None = None) -> PartitionPlan:
    """Resolve the day's paths (``{ds}``, ``{data_dir}``, ``{home}`` placeholders); the input
    must exist (locally or on any filesystem pyarrow reads), be readable as ``input_format``
    (None: detected from the suffixes, ``base.tables.detect_format``) and have
    ``text_column``."""
    import mlflow

    from dlexplain.base.paths import confined
    from dlexplain.base.tables import detect_format, input_columns
    from dlexplain.spark.summary import foreign_output

    fields = {"ds": ds, "data_dir": str(settings.paths.data_dir.resolve()),
              "home": str(settings.paths.home.resolve())}
    source, target = fill_template(dataset_template, fields), fill_template(output_template, fields)
    source = confined(source, list(settings.paths.input_roots), "input", "DLEXPLAIN_INPUT_ROOTS")
    target = confined(target, list(settings.paths.output_roots), "output", "DLEXPLAIN_OUTPUT_ROOTS")
    foreign = foreign_output(target)
    if foreign:
        raise DataError(foreign)
    try:
        fmt = detect_format(source, input_format)
        columns = input_columns(source, fmt)
    except DataError as err:
        raise DataError(f"{err} (template {dataset_template!r})") from err
    if text_column not in columns:
        raise DataError(f"text column {text_column!r} is not in the input's columns {columns}")
    return PartitionPlan(ds=ds, partition=f"ds={ds}", input=source, output=target,
                         tracking_uri=mlflow.get_tracking_uri(), python=sys.executable,
                         input_format=fmt)


def prepare_run(ds: str, *, dataset_template: str, output_template: str, text_column: str,
                source: str, class_to_plot: str | None, settings: Settings,
                input_format: str | None = None) -> PartitionPlan:
    """Everything a run can check before Spark starts: the partition (:func:`plan_partition`),
    that the source model's config is readable, and that ``class_to_plot`` (None: every class
    a batch predicts) is one of its classes. Fails with a ``DlexplainError`` saying what is
    wrong."""
    from dlexplain.tracking.sources import describe_source, source_labels

    plan = plan_partition(ds, dataset_template, output_template, settings,
                          text_column=text_column, input_format=input_format)
    names = source_labels(describe_source(_source_location(source, settings)))
    if class_to_plot is not None and class_to_plot not in names:
        raise DataError(f"class_to_plot {class_to_plot!r} is not a class of {source!r}; "
                        f"its classes: {list(names)} (or leave it empty for every predicted "
                        "class)")
    logger.info("classes of %s: %s", source, list(names))
    return plan


def _source_location(source: str, settings: Settings) -> str:
    """Where ``source`` can be read without registering anything (``default``: the folder)."""
    if source != DEFAULT_SOURCE:
        return source
    from dlexplain.defaults import build_default_model

    return str(build_default_model(settings.paths.cache_dir).path)


def resolve_source_model(source: str, settings: Settings) -> str:
    """``default`` → the embedded model, registered as ``sentiment-classifier@champion``."""
    if source != DEFAULT_SOURCE:
        return source
    from dlexplain.tracking.registry import register_classifier

    return register_classifier(Path(_source_location(source, settings)))


def ensure_explainer(source: str, max_evals: int | None, settings: Settings,
                     registered_name: str | None = None, method: str = "exact"):
    """The explainer of ``source`` (an ``ExplainerRef``) for ``method``: the exact one, logged
    only when new and registered as ``registered_name`` (None: ``<classifier name>-explainer``);
    for ``fast`` and ``fast+audit``, the newest gated fast explainer trained from it.

    ``max_evals`` None means the setting (``DLEXPLAIN_MAX_EVALS``); a bad value, an unknown
    method, a fast method without a gated fast explainer or an explainer whose files are not
    this package's (``dlexplain.tracking.trust``) fails here, before the Spark job loads it.
    """
    from dlexplain.tracking.fast_runs import fast_name, gated_fast
    from dlexplain.tracking.registry import ExplainerSpec, log_explainer
    from dlexplain.tracking.trust import check_trusted

    if method not in METHODS:
        raise ConfigError(f"method {method!r} must be one of {list(METHODS)}")
    config = settings.explainer if max_evals is None else replace(settings.explainer,
                                                                  max_evals=max_evals)
    exact = log_explainer(resolve_source_model(source, settings), ExplainerSpec(config),
                          registered_model_name=registered_name)
    if method == "exact":
        check_trusted(exact)
        return exact
    fast = gated_fast(exact)
    if fast is None:
        raise ConfigError(
            f"method {method!r} needs a fast explainer that passed the fidelity gate, and none "
            f"trained from explainer run {exact.run_id} is registered (as "
            f"{fast_name(exact.registered_model or '<explainer>')!r}): let train_fast_explainer "
            "train one, or use method 'exact'")
    logger.info("method %s: fast explainer %s version %s (trained from explainer run %s)",
                method, fast.registered_model, fast.version, exact.run_id)
    check_trusted(fast)
    if method == "fast+audit":
        check_trusted(exact)  # the audit's sample is explained exactly
    return fast


def read_output(output: str):
    """The Spark job's output partition as a ``pyarrow.Table`` (part files in name order)."""
    import pyarrow.parquet as pq

    return pq.read_table(output)


def read_audit(output: str):
    """The exactly explained sample of a ``fast+audit`` night (a ``pyarrow.Table``), or None."""
    import os

    from pyarrow import fs

    path = f"{output.rstrip('/')}/{AUDIT_DIR}"
    filesystem, inner = fs.FileSystem.from_uri(path if "://" in path else os.path.abspath(path))
    if filesystem.get_file_info(inner).type != fs.FileType.Directory:
        return None
    return read_output(path)


def audit_fidelity(results: list, audited: list) -> dict:
    """Metrics ``audit_*``: the fidelity of a night's fast rows to its exact audit rows (the
    same texts), empty when nothing was audited."""
    from dlexplain.fast.fidelity import fidelity

    fast = {"".join(r.tokens): r for r in results if r.ok and r.method == "fast"}
    pairs = [(fast["".join(r.tokens)], r) for r in audited if r.ok and "".join(r.tokens) in fast]
    if not pairs:
        return {}
    scores = fidelity([f for f, _ in pairs], [e for _, e in pairs]).to_dict()
    return {f"audit_{name}": value for name, value in scores.items() if value == value}


def open_explanation_run(*, dag_id: str, airflow_run_id: str, explainer, plan: PartitionPlan,
                         rows_per_batch: int, max_items: int) -> list[BatchItem]:
    """The one explanation run of (DAG, logical date), tagged; its batches as at most
    ``max_items`` work items.

    ``explainer`` is the ``ExplainerRef`` that explained the partition.
    """
    import mlflow
    import pyarrow.compute as pc

    from dlexplain.explain.table import EXPLANATION_COLUMN
    from dlexplain.spark.summary import JobSummary
    from dlexplain.tracking import runs

    table = read_output(plan.output)
    rows = table.num_rows
    errors = pc.struct_field(table.column(EXPLANATION_COLUMN), "error")
    failed = int(pc.sum(pc.is_valid(errors)).as_py() or 0)
    run_id = runs.find_or_create_run(
        runs.EXPLANATIONS_EXPERIMENT,
        key={runs.TAG_KIND: runs.KIND_EXPLANATIONS, runs.TAG_DAG_ID: dag_id,
             runs.TAG_LOGICAL_DATE: plan.ds},
        run_name=f"{dag_id}-{plan.partition}",
    )
    runs.clear_artifacts(run_id, runs.partition_prefix(plan.partition))  # earlier attempts
    job = JobSummary.read(plan.output)
    client = mlflow.MlflowClient()
    tags = {"airflow.dag_id": dag_id, "airflow.run_id": airflow_run_id,
            "airflow.logical_date": plan.ds, runs.TAG_EXPLAINER_RUN_ID: explainer.run_id,
            runs.TAG_EXACT_RUN_ID: explainer.exact_run, runs.TAG_METHOD: job.method,
            runs.TAG_GRANULARITY: job.granularity,
            runs.TAG_PARTITION: plan.partition, runs.TAG_INPUT: plan.input,
            runs.TAG_OUTPUT: plan.output, runs.TAG_ROWS: str(rows),
            runs.TAG_ROWS_FAILED: str(failed)}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    for key in ("model_evaluations", "cache_hits", "explain_and_write_s", "audited"):
        client.log_metric(run_id, key, getattr(job, key))  # one point per DAG run: re-runs' history
    logger.info("Spark job: %d model evaluations, %d cache hits, explain+write %.1f s",
                job.model_evaluations, job.cache_hits, job.explain_and_write_s)
    items = batch_items(run_id=run_id, output=plan.output, partition=plan.partition, rows=rows,
                        rows_per_batch=rows_per_batch, max_items=max_items,
                        timestamp_ms=int(time.time() * 1000))
    logger.info("explanation run %s: %d rows in %d batches (%d work items)", run_id, rows,
                sum(item.batches for item in items), len(items))
    return items


def log_batch(item: BatchItem, class_name: str | None = None) -> BatchSummary:
    """Log each of the item's batches (plots, arrays and text plots) into the explanation run
    (bar plots of ``class_name``, or of every class the batch predicts when None)."""
    from dlexplain.explain.table import read_explanations
    from dlexplain.tracking.artifacts import log_explanations

    table = read_output(item.output)
    logged = []
    for number in item.numbers:
        results = read_explanations(table.slice(number * item.rows_per_batch,
                                                item.rows_per_batch))
        logged.append(log_explanations(results, item.prefix(number), run_id=item.run_id,
                                       class_names=None if class_name is None else [class_name],
                                       step=number, timestamp_ms=item.timestamp_ms))
    errors = [s["max_additivity_error"] for s in logged if s["max_additivity_error"] is not None]
    return BatchSummary(**{k: sum(s[k] for s in logged) for k in ("rows", "explained", "failed")},
                        max_additivity_error=max(errors) if errors else None)


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
    from dlexplain.quality import faithfulness
    from dlexplain.quality.importance import classes, token_importance
    from dlexplain.quality.report import signed_importance_png
    from dlexplain.tracking.quality_runs import log_importance, log_night_metrics

    results = read_explanations(read_output(plan.output))
    table = token_importance(results)
    plots = {name: signed_importance_png(table, name, title=f"{name}, night {plan.ds}")
             for name in classes(table)}
    path = log_importance(run_id, table, plots)
    counts = summarize(results)
    audit = read_audit(plan.output)
    metrics = {"rows_total": counts["rows"], "rows_failed_total": counts["failed"],
               "rows_refused_total": counts["refused"],
               "max_additivity_error": counts["max_additivity_error"] or 0.0,
               **faithfulness.summarize(results),
               **audit_fidelity(results, [] if audit is None else read_explanations(audit))}
    log_night_metrics(dag_id, plan.ds, run_id, metrics)
    return NightQuality(metrics=metrics, importance=path)


def check_drift(*, dag_id: str, run_id: str, ds: str, threshold: float, nights: int,
                date_from: str | None = None, date_to: str | None = None) -> DriftCheck:
    """Compare tonight's importance with the baseline (the ``nights`` latest nights before, or
    the pinned ``[date_from, date_to]``), log the report and the score; nights explained with
    other classes, or by another unit (granularity), are left out of the baseline."""
    from dlexplain.quality.drift import compare
    from dlexplain.quality.importance import classes, pool
    from dlexplain.quality.report import drift_html
    from dlexplain.tracking.quality_runs import (baseline_runs, granularity_of, importance_of,
                                                 log_drift, log_night_metrics)

    if date_from and date_to and date_from > date_to:
        raise DataError(f"drift baseline range is empty: {date_from} is after {date_to}")
    tonight = importance_of(run_id)
    found = [(night, importance_of(night_run)) for night, night_run in
             baseline_runs(dag_id, ds, nights=nights, date_from=date_from, date_to=date_to,
                           granularity=granularity_of(run_id))]
    usable = [(night, t) for night, t in found if set(classes(t)) == set(classes(tonight))]
    if not usable or tonight.empty:
        logger.info("night %s: no baseline to compare with (%d nights found, %d with the same "
                    "classes)", ds, len(found), len(usable))
        return DriftCheck(status="no_baseline", score=None, threshold=threshold,
                          baseline_nights=[], report_url=None)
    baseline = pool(t for _, t in usable)
    drift = compare(tonight, baseline, baseline_nights=[n for n, _ in usable],
                    threshold=threshold)
    url = log_drift(run_id, drift_html(drift, tonight, baseline, night=ds),
                    drift.to_json_dict())
    log_night_metrics(dag_id, ds, run_id, {
        "drift_ndcg": drift.score,
        **{f"drift_ndcg_{_metric_name(c.class_name)}": c.ndcg for c in drift.classes}})
    status = "drift" if drift.drifted else "stable"
    logger.log(logging.WARNING if drift.drifted else logging.INFO,
               "night %s: nDCG@%d %.3f against %d nights (threshold %.2f): %s; report %s",
               ds, drift.top_k, drift.score, len(usable), threshold, status, url)
    return DriftCheck(status=status, score=drift.score, threshold=threshold,
                      baseline_nights=[n for n, _ in usable], report_url=url)


def _metric_name(text: str) -> str:
    """``text`` with the characters MLflow metric names refuse replaced by ``_``."""
    import re

    return re.sub(r"[^\w\-. /]", "_", text)
