"""``make demo``: the embedded default model, tracked end to end in a local MLflow server."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import mlflow

from dlexplain.config import Settings

logger = logging.getLogger(__name__)

#: The days `make demo` builds and explains (fixed, so demo outputs are reproducible).
DEMO_END = date(2026, 1, 3)
DEMO_DAYS = 3
EXPLANATIONS_EXPERIMENT = "dlexplain-explanations"


@dataclass(frozen=True)
class DemoResult:
    tracking_uri: str
    explainer_run_id: str
    explanation_run_url: str
    explainer_run_url: str
    output: Path
    summary: dict


def tracking_uri(settings: Settings) -> str:
    """MLFLOW_TRACKING_URI when set; otherwise a local server under ``<home>/mlflow``."""
    from dlexplain.tracking_server import start_server

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        uri = start_server(settings.home / "mlflow").url
        os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    return uri


def run_url(uri: str, run_id: str) -> str:
    run = mlflow.MlflowClient().get_run(run_id)
    return f"{uri}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


def run_demo(settings: Settings, rows_per_day: int = 8, max_evals: int | None = None) -> DemoResult:
    """Build the defaults, register and explain them, log the demo batch's artifacts."""
    from dlexplain.artifacts import log_explanations
    from dlexplain.batch import attach_explanations
    from dlexplain.defaults import build_default_data, build_default_model
    from dlexplain.engine import ExplainerConfig
    from dlexplain.registry import (EXPLAINER_MODEL_NAME, ExplainerSpec, find_or_create_run,
                                    log_explainer, register_classifier)
    from dlexplain.schema import TextExplanation
    from dlexplain.tables import read_table, write_table

    model = build_default_model(settings.cache_dir)
    start = DEMO_END - timedelta(days=DEMO_DAYS - 1)
    partitions = build_default_data(settings.cache_dir, settings.data_dir, start, DEMO_END,
                                    rows_per_day=rows_per_day)
    uri = tracking_uri(settings)
    source = register_classifier(model.path)
    spec = ExplainerSpec(ExplainerConfig(max_evals=max_evals or settings.max_evals,
                                         batch_size=settings.batch_size))
    explainer_run = log_explainer(source, spec)

    frame = read_table(partitions[-1])
    explainer = mlflow.pyfunc.load_model(f"runs:/{explainer_run}/{EXPLAINER_MODEL_NAME}")
    explained = explainer.predict(frame[["text"]])
    results = [TextExplanation.from_json(j) for j in explained["explanation_json"]]
    output = settings.home / "demo" / "explanations" / f"ds={DEMO_END}" / "part-0.parquet"
    write_table(attach_explanations(frame, results), output)

    partition = f"ds={DEMO_END.isoformat()}"
    run_id = find_or_create_run(
        EXPLANATIONS_EXPERIMENT,
        key={"dlexplain.kind": "explanations", "dlexplain.partition": partition,
             "dlexplain.explainer_run_id": explainer_run},
        run_name=f"demo-{partition}",
    )
    with mlflow.start_run(run_id=run_id):
        summary = log_explanations(results, f"explanations/{partition}/batch-0000",
                                   class_name="POSITIVE", step=0)
    return DemoResult(uri, explainer_run, run_url(uri, run_id), run_url(uri, explainer_run),
                      output, summary)
