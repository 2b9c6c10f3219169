"""The steps of the ``explain_reviews`` DAG, one function per task, free of Airflow imports.

Each step takes and returns frozen records (:class:`~dlexplain.base.records.Record`): the DAG
hands them from task to task as XCom JSON (``to_json_dict``/``from_json_dict``), and the Spark
job's :class:`~dlexplain.spark.summary.JobSummary` comes back the same way, so writer and reader
share one definition of every value that crosses a seam.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from dlexplain.base.tables import INPUT_FORMATS
from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.explain.request import Method, RunRequest, param_schemas
from dlexplain.model.refs import ExplainerRef
from dlexplain.model.source_model import resolve_source_model, source_location
from dlexplain.model.trust import NO_PICKLE
from dlexplain.pipelines.batches import BatchItem, batch_items
from dlexplain.pipelines.partitions import (
    DATASET_TEMPLATE,
    OUTPUT_TEMPLATE,
    PartitionPlan,
    plan_partition,
)
from dlexplain.quality.rule import DriftRule
from dlexplain.quality.rule import param_schemas as drift_param_schemas
from dlexplain.spark import application_path
from dlexplain.spark.output import read_output

logger = logging.getLogger(__name__)


def prepare_run(
    ds: str,
    *,
    dataset_template: str,
    output_template: str,
    text_column: str,
    source: str,
    class_to_plot: str | None,
    settings: Settings,
    input_format: str | None = None,
    request: RunRequest | None = None,
) -> PartitionPlan:
    """Everything a run can check before Spark starts: the partition (:func:`plan_partition`),
    that the source model's config is readable, and that ``class_to_plot`` (None: every class
    a batch predicts) is one of its classes; the plan carries the run's ``request`` (None: the
    defaults). Fails with a ``DlexplainError`` saying what is wrong."""
    from dlexplain.tracking.sources import describe_source, source_labels

    plan = plan_partition(
        ds,
        dataset_template,
        output_template,
        settings,
        text_column=text_column,
        input_format=input_format,
    )
    names = source_labels(describe_source(source_location(source, settings)))
    if class_to_plot is not None and class_to_plot not in names:
        raise DataError(
            f"class_to_plot {class_to_plot!r} is not a class of {source!r}; "
            f"its classes: {list(names)} (or leave it empty for every predicted "
            "class)"
        )
    logger.info("classes of %s: %s", source, list(names))
    return replace(plan, request=(request or RunRequest()).to_json())


def ensure_explainer(
    source: str,
    request: RunRequest,
    settings: Settings,
    registered_name: str | None = None,
):
    """The explainer of ``source`` (an ``ExplainerRef``) for the ``request``: the exact one,
    logged only when new and registered as ``registered_name`` (None:
    ``<classifier name>-explainer``); for a fast method (``fast``, ``fast+verify``,
    ``fast+audit``), the newest gated fast explainer
    trained from it.

    The request's ``max_evals`` None means the setting (``DLEXPLAIN_MAX_EVALS``); a fast method
    without a gated fast explainer or an explainer whose files are not this package's
    (``dlexplain.model.trust``) fails here, before the Spark job loads it.
    """
    from dlexplain.model.fast_runs import fast_name, gated_fast
    from dlexplain.model.registry import ExplainerSpec, log_explainer
    from dlexplain.model.trust import check_trusted

    method = request.run_method
    config = settings.explainer
    if request.max_evals is not None:
        config = replace(config, max_evals=request.max_evals)
    exact = log_explainer(
        resolve_source_model(source, settings),
        ExplainerSpec(config),
        registered_model_name=registered_name,
    )
    if request.method == Method.EXACT:
        check_trusted(exact)
        return exact
    fast = gated_fast(exact)
    if fast is None:
        raise ConfigError(
            f"method {method!r} needs a fast explainer that passed the fidelity gate, and none "
            f"trained from explainer run {exact.run_id} is registered (as "
            f"{fast_name(exact.registered_model or '<explainer>')!r}): let train_fast_explainer "
            "train one, or use method 'exact'"
        )
    logger.info(
        "method %s: fast explainer %s version %s (trained from explainer run %s)",
        method,
        fast.registered_model,
        fast.version,
        exact.run_id,
    )
    check_trusted(fast)
    if request.audited:
        check_trusted(exact)  # the audit's sample is explained exactly
    return fast


def open_explanation_run(
    *,
    dag_id: str,
    airflow_run_id: str,
    explainer,
    plan: PartitionPlan,
    rows_per_batch: int,
    max_items: int,
) -> list[BatchItem]:
    """The one explanation run of (DAG, logical date), tagged; its batches as at most
    ``max_items`` work items.

    ``explainer`` is the ``ExplainerRef`` that explained the partition.
    """
    import pyarrow.compute as pc

    from dlexplain.explain.table import EXPLANATION_COLUMN
    from dlexplain.spark.summary import JobSummary
    from dlexplain.tracking import runs

    table = read_output(plan.output)
    rows = table.num_rows
    errors = pc.struct_field(table.column(EXPLANATION_COLUMN), "error")
    failed = int(pc.sum(pc.is_valid(errors)).as_py() or 0)
    run_id = runs.explanation_run(dag_id, plan.ds, plan.partition)
    job = JobSummary.read(plan.output)
    tags = {
        "airflow.dag_id": dag_id,
        "airflow.run_id": airflow_run_id,
        "airflow.logical_date": plan.ds,
        runs.TAG_EXPLAINER_RUN_ID: explainer.run_id,
        runs.TAG_EXACT_RUN_ID: explainer.exact_run,
        runs.TAG_METHOD: job.method,
        runs.TAG_GRANULARITY: job.granularity,
        runs.TAG_PARTITION: plan.partition,
        runs.TAG_INPUT: plan.input,
        runs.TAG_OUTPUT: plan.output,
        runs.TAG_ROWS: str(rows),
        runs.TAG_ROWS_FAILED: str(failed),
    }
    # the classifier the night explained: its drift baseline pools only nights of the same one
    classifier = runs.run_tags(explainer.run_id).get(runs.TAG_SOURCE_KEY)
    if classifier:
        tags[runs.TAG_SOURCE_KEY] = classifier
    # one metric point per DAG run: re-runs' history
    metrics = ("model_evaluations", "cache_hits", "explain_and_write_s", "audited")
    runs.record(run_id, tags, {key: getattr(job, key) for key in metrics})
    logger.info(
        "Spark job: %d model evaluations, %d cache hits, explain+write %.1f s",
        job.model_evaluations,
        job.cache_hits,
        job.explain_and_write_s,
    )
    items = batch_items(
        run_id=run_id,
        output=plan.output,
        partition=plan.partition,
        rows=rows,
        rows_per_batch=rows_per_batch,
        max_items=max_items,
        timestamp_ms=int(time.time() * 1000),
    )
    logger.info(
        "explanation run %s: %d rows in %d batches (%d work items)",
        run_id,
        rows,
        sum(item.batches for item in items),
        len(items),
    )
    return items


#: The steps and records the DAG uses, and what its param forms and wiring read (the DAG file
#: imports only this package and config): the same bounds and choices the steps check.
__all__ = [
    "DATASET_TEMPLATE",
    "INPUT_FORMATS",
    "RunRequest",
    "param_schemas",
    "NO_PICKLE",
    "OUTPUT_TEMPLATE",
    "DriftRule",
    "drift_param_schemas",
    "ExplainerRef",
    "PartitionPlan",
    "application_path",
    "ensure_explainer",
    "open_explanation_run",
    "prepare_run",
]
