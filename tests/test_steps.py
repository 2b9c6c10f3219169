"""The DAG steps' typed seams: records round-trip as XCom JSON, refuse what they do not know,
and the explainer's settings come from Settings unless a param overrides them."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.spark.summary import JobSummary
from dlexplain.steps import (DATASET_TEMPLATE, OUTPUT_TEMPLATE, BatchItem, PartitionPlan,
                             ensure_explainer, plan_partition)


def test_plan_is_a_record_that_round_trips_as_json(tmp_path):
    settings = Settings.from_env({"DLEXPLAIN_HOME": str(tmp_path)})
    folder = tmp_path / "data" / "reviews" / "ds=2026-01-02"
    folder.mkdir(parents=True)
    pd.DataFrame({"id": [1], "text": ["good"]}).to_parquet(folder / "part-0.parquet")
    plan = plan_partition("2026-01-02", DATASET_TEMPLATE, OUTPUT_TEMPLATE, settings)
    assert isinstance(plan, PartitionPlan)
    assert plan.input == str(tmp_path / "data" / "reviews" / "ds=2026-01-02")
    assert plan.output == str(tmp_path / "explanations" / "reviews" / "ds=2026-01-02")
    assert PartitionPlan.from_json_dict(json.loads(json.dumps(plan.to_json_dict()))) == plan
    with pytest.raises(DataError, match="does not exist"):
        plan_partition("2026-01-03", DATASET_TEMPLATE, OUTPUT_TEMPLATE, settings)
    with pytest.raises(DataError, match="text column 'review' is not in the input's columns"):
        plan_partition("2026-01-02", DATASET_TEMPLATE, OUTPUT_TEMPLATE, settings,
                       text_column="review")


def test_records_refuse_unknown_and_missing_fields():
    item = BatchItem(run_id="r", output="/o", partition="ds=1", batch=2, rows_per_batch=4)
    assert item.prefix == "explanations/ds=1/batch-0002"
    with pytest.raises(DataError, match="unknown fields \\['extra'\\]"):
        BatchItem.from_json_dict({**item.to_json_dict(), "extra": 1})
    with pytest.raises(DataError, match="rows_per_batch"):
        BatchItem.from_json_dict({k: v for k, v in item.to_json_dict().items()
                                  if k != "rows_per_batch"})
    summary = JobSummary(rows=3, failed=1, model_evaluations=90, cache_hits=0, input="i",
                         output="o", model_uri="m", spark_start_s=1.0,
                         explainer_download_s=0.5, explain_and_write_s=9.0)
    assert JobSummary.from_json(summary.to_json()) == summary


def test_max_evals_param_falls_back_to_the_setting(tracking_uri, tiny_model_dir):
    settings = Settings.from_env({"DLEXPLAIN_MAX_EVALS": "37"})
    explainer = ensure_explainer(str(tiny_model_dir), None, settings)
    assert mlflow.MlflowClient().get_run(explainer.run_id).data.params["max_evals"] == "37"
    override = ensure_explainer(str(tiny_model_dir), 41, settings)
    assert mlflow.MlflowClient().get_run(override.run_id).data.params["max_evals"] == "41"
    with pytest.raises(ConfigError, match="max_evals=1 must be an integer >= 2"):
        ensure_explainer(str(tiny_model_dir), 1, settings)
