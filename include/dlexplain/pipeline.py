"""The steps of the ``explain_reviews`` DAG, one function per task, free of Airflow imports."""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from dlexplain.config import Settings
from dlexplain.errors import DataError

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
EXPLANATIONS_EXPERIMENT = "dlexplain-explanations"
DATASET_TEMPLATE = "{data_dir}/reviews/ds={ds}"
OUTPUT_TEMPLATE = "{home}/explanations/reviews/ds={ds}"


@dataclass(frozen=True)
class PartitionPlan:
    """Where one day's input and output live, and what the Spark job needs to know."""

    ds: str
    partition: str
    input: str
    output: str
    tracking_uri: str
    python: str


def plan_partition(ds: str, dataset_template: str = DATASET_TEMPLATE,
                   output_template: str = OUTPUT_TEMPLATE, settings: Settings | None = None) -> dict:
    """Resolve the day's paths (``{ds}``, ``{data_dir}``, ``{home}`` placeholders); input must exist."""
    import mlflow

    settings = settings or Settings.from_env()
    fields = {"ds": ds, "data_dir": settings.data_dir.resolve(), "home": settings.home.resolve()}
    try:
        source, target = dataset_template.format(**fields), output_template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        raise DataError(f"bad path template: {err!r}; use {{ds}}, {{data_dir}}, {{home}}") from err
    if "://" not in source and not Path(source).exists():
        raise DataError(f"input partition {source!r} does not exist (template {dataset_template!r})")
    plan = PartitionPlan(ds=ds, partition=f"ds={ds}", input=source, output=target,
                         tracking_uri=mlflow.get_tracking_uri(), python=sys.executable)
    return asdict(plan)


def resolve_source_model(source: str, settings: Settings | None = None) -> str:
    """``default`` → the embedded model, registered as ``sentiment-classifier@champion``."""
    if source != DEFAULT_SOURCE:
        return source
    from dlexplain.defaults import build_default_model
    from dlexplain.registry import register_classifier

    settings = settings or Settings.from_env()
    return register_classifier(build_default_model(settings.cache_dir).path)


def ensure_explainer(source: str, max_evals: int, settings: Settings | None = None) -> str:
    """run_id of the explainer for ``source`` with ``max_evals`` (logged only when new)."""
    from dlexplain.engine import ExplainerConfig
    from dlexplain.registry import ExplainerSpec, log_explainer

    settings = settings or Settings.from_env()
    config = ExplainerConfig(max_evals=max_evals, batch_size=settings.batch_size,
                             backend=settings.backend)
    return log_explainer(resolve_source_model(source, settings), ExplainerSpec(config))


def read_output(output: str):
    """The Spark job's output partition as a ``pyarrow.Table`` (part files in name order)."""
    import pyarrow.parquet as pq

    return pq.read_table(output)


def read_job_summary(output: str) -> dict:
    """The Spark job's summary file inside its output (rows, model evaluations, cache hits)."""
    import json
    import os

    from pyarrow import fs

    from dlexplain.jobs.batch_explain import SUMMARY_FILE

    filesystem, path = fs.FileSystem.from_uri(output if "://" in output else os.path.abspath(output))
    with filesystem.open_input_stream(f"{path.rstrip('/')}/{SUMMARY_FILE}") as stream:
        return json.loads(stream.read())


def open_explanation_run(*, dag_id: str, logical_date: str, airflow_run_id: str,
                         explainer_run_id: str, plan: dict, rows_per_batch: int) -> list[dict]:
    """The one explanation run of (DAG, logical date), tagged; one work item per batch."""
    import mlflow
    import pyarrow.compute as pc

    from dlexplain.registry import find_or_create_run

    table = read_output(plan["output"])
    rows = table.num_rows
    failed = int(pc.sum(pc.is_valid(pc.struct_field(table.column("explanation"), "error"))).as_py())
    run_id = find_or_create_run(
        EXPLANATIONS_EXPERIMENT,
        key={"dlexplain.kind": "explanations", "dlexplain.dag_id": dag_id,
             "dlexplain.logical_date": logical_date},
        run_name=f"{dag_id}-{plan['partition']}",
    )
    client = mlflow.MlflowClient()
    tags = {"airflow.dag_id": dag_id, "airflow.run_id": airflow_run_id,
            "airflow.logical_date": logical_date, "dlexplain.explainer_run_id": explainer_run_id,
            "dlexplain.partition": plan["partition"], "dlexplain.input": plan["input"],
            "dlexplain.output": plan["output"], "dlexplain.rows": str(rows),
            "dlexplain.rows_failed": str(failed)}
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    client.log_metric(run_id, "rows_total", rows)
    client.log_metric(run_id, "rows_failed_total", failed)
    job = read_job_summary(plan["output"])
    for key in ("model_evaluations", "cache_hits", "explain_and_write_s"):
        client.log_metric(run_id, key, job[key])  # one point per DAG run: history of re-runs
    logger.info("Spark job: %d model evaluations, %d cache hits, explain+write %.1f s",
                job["model_evaluations"], job["cache_hits"], job["explain_and_write_s"])
    batches = max(1, -(-rows // rows_per_batch))
    logger.info("explanation run %s: %d rows in %d batches", run_id, rows, batches)
    return [{"run_id": run_id, "output": plan["output"], "partition": plan["partition"],
             "batch": i, "rows_per_batch": rows_per_batch} for i in range(batches)]


def log_batch(item: dict, class_name: str | None = None) -> dict:
    """Log one batch's plot, arrays and text plots into the explanation run."""
    import mlflow

    from dlexplain.artifacts import log_explanations
    from dlexplain.batch import read_explanations

    start = item["batch"] * item["rows_per_batch"]
    table = read_output(item["output"]).slice(start, item["rows_per_batch"])
    results = read_explanations(table)
    with mlflow.start_run(run_id=item["run_id"]):
        summary = log_explanations(results, f"explanations/{item['partition']}/batch-{item['batch']:04d}",
                                   class_name=class_name, step=item["batch"])
    return {k: summary[k] for k in ("rows", "explained", "failed", "max_additivity_error")}
