"""The DAG steps' typed seams: records round-trip as XCom JSON, refuse what they do not know,
and the explainer's settings come from Settings unless a param overrides them."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.explain.request import RunRequest
from dlexplain.pipelines.batches import BatchItem, batch_items
from dlexplain.pipelines.explain_reviews import ensure_explainer
from dlexplain.pipelines.partitions import (
    DATASET_TEMPLATE,
    OUTPUT_TEMPLATE,
    PartitionPlan,
    plan_partition,
)
from dlexplain.spark.summary import JobSummary


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
    assert item.prefix(2) == "explanations/ds=1/batch-0002" and item.numbers == range(2, 3)
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
    explainer = ensure_explainer(str(tiny_model_dir), RunRequest(), settings)
    assert mlflow.MlflowClient().get_run(explainer.run_id).data.params["max_evals"] == "37"
    override = ensure_explainer(str(tiny_model_dir), RunRequest(max_evals=41), settings)
    assert mlflow.MlflowClient().get_run(override.run_id).data.params["max_evals"] == "41"
    with pytest.raises(ConfigError, match="max_evals=1 must be an integer from 2 to 10000"):
        RunRequest.from_params({"max_evals": 1})


def test_batches_stay_within_airflows_map_length():
    """More batches than Airflow maps (``max_map_length``): consecutive batches share an item,
    every batch is in exactly one, in order."""
    def numbers(rows, max_items):
        items = batch_items(run_id="r", output="/o", partition="ds=1", rows=rows,
                            rows_per_batch=16, max_items=max_items)
        assert len(items) <= max_items
        return [list(item.numbers) for item in items]

    assert numbers(40, 1024) == [[0], [1], [2]]
    assert numbers(0, 1024) == [[0]]  # an empty night still logs its (empty) batch
    assert numbers(16 * 1025, 1024) == [[2 * i, 2 * i + 1] for i in range(512)] + [[1024]]
    assert numbers(16 * 7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    # a million rows in DLEXPLAIN_ARTIFACT_GROUPS' default 64 groups: artifacts stay bounded
    million = numbers(1_000_000, Settings.from_env().run.artifact_groups)
    assert len(million) == 64 and sum(map(len, million)) == -(-1_000_000 // 16)


@pytest.mark.parametrize("template", ["{home}/data", "/etc", "../x", "{home}/explanations",
                                      "{home}/explanations/../data/ds={ds}",
                                      "{home}/explanations/link/ds={ds}",
                                      "{home}/explanations/foreign"])
def test_outputs_are_confined_and_never_foreign(tmp_path, template, monkeypatch):
    """An output outside ``<home>/explanations`` (the default DLEXPLAIN_OUTPUT_ROOTS), the root
    itself, one through a symlink that leads out, or a folder dlexplain did not write: refused
    before any work, and the tree is untouched."""
    settings = Settings.from_env({"DLEXPLAIN_HOME": str(tmp_path)})
    folder = tmp_path / "data" / "reviews" / "ds=2026-01-02"
    folder.mkdir(parents=True)
    pd.DataFrame({"id": [1], "text": ["good"]}).to_parquet(folder / "part-0.parquet")
    (tmp_path / "explanations").mkdir()
    (tmp_path / "explanations" / "link").symlink_to(tmp_path / "data")
    (tmp_path / "explanations" / "foreign").mkdir()
    (tmp_path / "explanations" / "foreign" / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path / "explanations")  # "../x" is <home>/x
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(DataError, match="DLEXPLAIN_OUTPUT_ROOTS|not written by dlexplain"):
        plan_partition("2026-01-02", DATASET_TEMPLATE, template, settings)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_inputs_are_confined_unless_the_roots_are_widened(tmp_path):
    outside = tmp_path / "elsewhere" / "ds=2026-01-02"
    outside.mkdir(parents=True)
    pd.DataFrame({"id": [1], "text": ["good"]}).to_parquet(outside / "part-0.parquet")
    template = str(tmp_path / "elsewhere" / "ds={ds}")
    narrow = Settings.from_env({"DLEXPLAIN_HOME": str(tmp_path / "home")})
    with pytest.raises(DataError, match="the input .* is not under .*DLEXPLAIN_INPUT_ROOTS"):
        plan_partition("2026-01-02", template, OUTPUT_TEMPLATE, narrow)
    wide = Settings.from_env({"DLEXPLAIN_HOME": str(tmp_path / "home"),
                              "DLEXPLAIN_INPUT_ROOTS": f"{tmp_path}/data,{tmp_path}/elsewhere"})
    assert plan_partition("2026-01-02", template, OUTPUT_TEMPLATE, wide).input == str(outside)
    with pytest.raises(DataError, match="'..' segments"):
        plan_partition("2026-01-02", "s3://bucket/../other/ds={ds}", OUTPUT_TEMPLATE,
                       Settings.from_env({"DLEXPLAIN_INPUT_ROOTS": "s3://bucket"}))
