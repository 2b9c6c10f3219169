"""train_fast_explainer end to end: explain_reviews explains a night with a tiny sentiment BERT
and announces it (Asset event naming its exact explainer); the training DAG learns from those
explanations, passes the gate and registers ``<explainer>-fast``, whose pyfunc answers fast by
default and exact on request, and which the served explainer now prefers; with nothing new it
stops early; with an unreachable gate it logs the failure and registers nothing. The next night
runs ``fast+audit``: every row fast, a seeded sample exact too, its fidelity logged, its exact
rows counted as new training texts; ``fast`` without a gated fast explainer fails at once."""

from __future__ import annotations

import json
from datetime import date

import mlflow
import numpy as np
import pandas as pd
import pendulum
import pytest
import requests
from mlflow import MlflowClient

from dlexplain.defaults.data import partition_path
from dlexplain.model.fast_runs import CURVE_PLOT, REPORT, TAG_GATE
from dlexplain.tracking.filters import where
from tests.checks import run_failures
from tests.tiny_model import word_texts

pytestmark = pytest.mark.slow
DAY, NEXT_DAY, VERIFY_DAY = date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 4)
TEXTS = word_texts(120, seed=7)
NEXT_TEXTS = word_texts(40, seed=8)
#: thresholds and training sized for a tiny model and 120 short texts
PARAMS = {"min_new_texts": 100, "held_out_fraction": 0.25, "epochs": 8, "learning_rate": 1e-3,
          "head_learning_rate": 1e-2, "min_held_out": 16, "min_top5_sign_agreement": 0.8,
          "reference_texts": 8, "reference_max_evals": 240}


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    return DagBag(dag_folder=str(REPO / "dags")).dags


def _asset_events(name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [e.extra for e in session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == name))]


def _write_night(home, day: date, texts: list[str]) -> None:
    path = partition_path(home / "data", day)
    path.parent.mkdir(parents=True)
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(path, index=False)


def test_the_pipeline_trains_gates_and_registers_its_fast_explainer(
        airflow_db, tracking_uri, dlexplain_home, tiny_sentiment_dir, tmp_path):
    _write_night(dlexplain_home, DAY, TEXTS)
    dags = _dags()
    source = str(tiny_sentiment_dir)
    night = dags["explain_reviews"].test(
        logical_date=pendulum.datetime(2026, 4, 1, tz="UTC"),
        run_conf={"source_model": source, "max_evals": 60, "rows_per_batch": 60,
                  "faithfulness": False})
    assert night.state == "success", run_failures(night)
    exact = night.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer")
    announced = [e for e in _asset_events("dlexplain_explained_reviews")
                 if e.get("exact_run_id") == exact["run_id"]]
    assert announced and announced[-1]["night"] == str(DAY)
    assert announced[-1]["registered_model"] == exact["registered_model"]
    # faithfulness off: no row measured it
    output = night.get_task_instance("prepare").xcom_pull(task_ids="prepare")["output"]
    assert all((e["faithfulness"] or {}).get("comprehensiveness") is None
               for e in pd.read_parquet(output)["explanation"])

    training = dags["train_fast_explainer"]
    run = training.test(run_conf={"source_model": source, **PARAMS})
    assert run.state == "success", run_failures(run)
    # one explainer named: one mapped training
    fast = run.get_task_instance("train", map_index=0).xcom_pull(task_ids="train", map_indexes=0)
    assert fast["passed"], fast["failures"]
    assert fast["registered_model"] == exact["registered_model"] + "-fast"
    client = MlflowClient()
    logged = client.get_run(fast["run_id"])
    assert logged.data.tags[TAG_GATE] == "passed"
    assert logged.data.metrics["median_spearman"] >= 0.7
    assert logged.data.metrics["fast_comprehensiveness"] > logged.data.metrics[
        "random_comprehensiveness"]
    # both scored against a finer reference (4x the evaluations) on 8 held-out texts
    assert logged.data.metrics["reference_texts"] == 8
    for side in ("fast", "exact"):
        assert -1 <= logged.data.metrics[f"reference_{side}_median_spearman"] <= 1
    assert logged.data.params["train_reference_max_evals"] == "240"
    # every training and gate param of the run reached the training and the gate it logged
    given = ("held_out_fraction", "epochs", "learning_rate", "head_learning_rate")
    assert {k: float(logged.data.params[f"train_{k}"]) for k in given} == {
        k: PARAMS[k] for k in given}
    assert {k: float(logged.data.params[f"gate_{k}"]) for k in (
        "min_top5_sign_agreement", "min_held_out")} == {"min_top5_sign_agreement": 0.8,
                                                        "min_held_out": 16}
    curve = client.get_metric_history(fast["run_id"], "curve_median_spearman")
    assert len(curve) == 3 and max(m.step for m in curve) == fast["train_texts"]
    artifacts = {a.path for a in client.list_artifacts(fast["run_id"], "fast")}
    assert {REPORT, CURVE_PLOT} <= artifacts

    # the registered fast explainer: fast unless asked, exact on request, both additive
    model = mlflow.pyfunc.load_model(f"models:/{fast['registered_model']}/{fast['version']}")
    frame = pd.DataFrame({"text": ["great fun , loved it", None, "dull and boring"]})
    quick = model.predict(frame)
    assert quick["method"].tolist() == ["fast", "fast", "fast"]
    assert quick["error"].notna().tolist() == [False, True, False]
    exact_rows = model.predict(frame, params={"method": "exact"})
    assert exact_rows["method"].tolist() == ["exact"] * 3
    verified = model.predict(frame, params={"method": "fast+verify"})
    assert set(verified["method"]) <= {"fast", "exact"}
    assert verified["error"].notna().tolist() == [False, True, False]
    for rows in (quick, exact_rows, verified):
        for i in (0, 2):
            assert rows["label"][i] == ("POSITIVE" if i == 0 else "NEGATIVE")
            total = np.asarray(rows["base_values"][i]) + np.sum(rows["values"][i], axis=0)
            np.testing.assert_allclose(total, rows["probabilities"][i], atol=1e-4)
    exact_only = mlflow.pyfunc.load_model(exact["model_uri"])
    with pytest.raises(Exception, match="no gated fast explainer"):
        exact_only.predict(frame, params={"method": "fast"})

    # nothing new since: the run stops after gather, nothing is trained
    again = training.test(run_conf={"source_model": source, **PARAMS})
    assert again.state == "success", run_failures(again)
    assert again.get_task_instance("train").state == "skipped"

    # a gate no model can pass: the figures are logged, nothing is registered
    strict = training.test(run_conf={
        "source_model": source, **PARAMS, "min_new_texts": 0, "min_median_spearman": 1.0,
        "min_top5_overlap": 5, "min_comprehensiveness_ratio": 100, "correlation_weight": 0.5,
        "steps": 3})
    assert strict.state == "success", run_failures(strict)
    failed = strict.get_task_instance("train", map_index=0).xcom_pull(task_ids="train",
                                                                      map_indexes=0)
    assert not failed["passed"] and failed["registered_model"] is None
    assert any("median_spearman" in f for f in failed["failures"])
    assert any("comprehensiveness_ratio" in f for f in failed["failures"])
    strict_params = client.get_run(failed["run_id"]).data.params
    assert [float(strict_params[k]) for k in ("train_correlation_weight", "gate_min_top5_overlap",
                                              "gate_min_comprehensiveness_ratio",
                                              "train_steps")] == [0.5, 5, 100, 3]
    assert client.get_run(failed["run_id"]).data.tags[TAG_GATE] == "failed"
    assert not client.list_artifacts(failed["run_id"], "explainer")
    versions = client.search_model_versions(where({"name": fast["registered_model"]}))
    assert [v.version for v in versions] == [fast["version"]]
    # an explainer_name no explainer has: gather fails, saying so (the DAG's last run here)
    unnamed = training.test(run_conf={"source_model": source, **PARAMS,
                                      "explainer_name": "no-such-explainer"})
    assert unnamed.state == "failed" and unnamed.get_task_instance("gather").state == "failed"

    # the served explainer of this classifier is now its gated fast explainer
    from dlexplain.serving.deployment import DeploymentState
    from dlexplain.serving.redeploy import pending_explainer

    served = pending_explainer(source, DeploymentState(tmp_path / "eaas.json"),
                               exact["registered_model"])
    assert (served.run_id, served.version, served.exact_run_id) == (
        fast["run_id"], fast["version"], exact["run_id"])
    # served: fast by default, exact when the request asks (params.method)
    from dlexplain.serving.checks import explain
    from dlexplain.serving.process import ProcessBackend
    from dlexplain.serving.redeploy import redeploy

    from transformers import AutoTokenizer

    from dlexplain.model.request_limits import VERIFY_EVALS, RequestLimits

    # a work limit the sentence's exact explanation (60 evaluations a token) just fits: asking
    # fast+verify for it is refused, as it may re-explain every text exactly after its check
    sentence, short = "great fun , loved it", "great fun"
    tokens = [len(AutoTokenizer.from_pretrained(source)(t, add_special_tokens=False)[
        "input_ids"]) for t in (sentence, short)]
    limits = RequestLimits(max_work=tokens[0] * 60)
    assert tokens[1] * (61 + VERIFY_EVALS) <= limits.max_work
    backend = ProcessBackend(tmp_path / "eaas" / "deployment.json", tracking_uri=tracking_uri,
                             limits=limits)
    try:
        deployment = redeploy(backend, served, timeout=300)
        (quick_row,) = explain(deployment.url, [sentence])
        (exact_row,) = explain(deployment.url, [sentence], params={"method": "exact"})
        (verified_row,) = explain(deployment.url, [short], params={"method": "fast+verify"})
        refused = requests.post(f"{deployment.url}/invocations", timeout=60, json={
            "dataframe_split": {"columns": ["text"], "data": [[sentence]]},
            "params": {"method": "fast+verify"}})
    finally:
        backend.undeploy()
    assert refused.status_code == 400 and "DLEXPLAIN_SERVE_MAX_WORK" in refused.text, (
        refused.status_code, refused.text)
    assert (quick_row["method"], exact_row["method"]) == ("fast", "exact")
    assert verified_row["method"] in ("fast", "exact") and verified_row["error"] is None
    assert quick_row["explainer_run_id"] == fast["run_id"] and quick_row["label"] == "POSITIVE"

    # next night, fast+audit: every row fast, a seeded half exact too, its fidelity logged
    _write_night(dlexplain_home, NEXT_DAY, NEXT_TEXTS)
    audited_night = dags["explain_reviews"].test(
        logical_date=pendulum.datetime(2026, 4, 2, tz="UTC"),
        run_conf={"source_model": source, "max_evals": 60, "rows_per_batch": 60,
                  "faithfulness": False, "method": "fast+audit", "audit_fraction": 0.5,
                  "audit_seed": 7})
    assert audited_night.state == "success", run_failures(audited_night)
    plan = audited_night.get_task_instance("prepare").xcom_pull(task_ids="prepare")
    assert json.loads(plan["request"])["audit_seed"] == 7  # the job's sample (test_job: seeds)
    rows = pd.read_parquet(plan["output"])
    assert len(rows) == len(NEXT_TEXTS)
    assert set(rows["explanation"].map(lambda e: e["method"])) == {"fast"}
    audit = pd.read_parquet(f"{plan['output']}/_audit")
    assert 0.25 * len(NEXT_TEXTS) <= len(audit) <= 0.75 * len(NEXT_TEXTS)
    assert set(audit["explanation"].map(lambda e: e["method"])) == {"exact"}
    assert set(audit["text"]) < set(rows["text"])
    batches = audited_night.get_task_instance("open_explanation_run").xcom_pull(
        task_ids="open_explanation_run")
    night_run = client.get_run(batches[0]["run_id"])
    assert night_run.data.tags["dlexplain.method"] == "fast+audit"
    assert night_run.data.tags["dlexplain.exact_run_id"] == exact["run_id"]
    assert night_run.data.metrics["audit_texts"] == len(audit)
    assert night_run.data.metrics["audit_median_spearman"] > 0.5
    event = [e for e in _asset_events("dlexplain_explained_reviews")
             if e.get("night") == str(NEXT_DAY)][-1]
    # a fast night's event names the explainer that explained it and the exact one behind it
    assert (event["explainer_run_id"], event["exact_run_id"], event["registered_model"]) == (
        fast["run_id"], exact["run_id"], exact["registered_model"])
    # the audited exact rows are new training texts for the next training; the two nights'
    # events, folded into one training run, name one explainer: one training
    from dlexplain.config import Settings
    from dlexplain.pipelines.train_fast_explainer import gather_named

    nights = [e for e in _asset_events("dlexplain_explained_reviews")
              if e.get("night") in (str(DAY), str(NEXT_DAY))]  # other tests' nights left out
    assert len(nights) == 2
    (gathered,) = gather_named(source, 1, Settings.from_env(), None, nights)
    assert (gathered.exact_run_id, gathered.registered_model) == (exact["run_id"],
                                                                 exact["registered_model"])
    assert gathered.new_texts == len(audit) and gathered.ready

    # a fast+verify night: each row fast or, where its check failed, exact; the share logged
    _write_night(dlexplain_home, VERIFY_DAY, word_texts(16, seed=9))
    verified_night = dags["explain_reviews"].test(
        logical_date=pendulum.datetime(2026, 4, 4, tz="UTC"),
        run_conf={"source_model": source, "max_evals": 60, "faithfulness": False,
                  "method": "fast+verify"})
    assert verified_night.state == "success", run_failures(verified_night)
    plan = verified_night.get_task_instance("prepare").xcom_pull(task_ids="prepare")
    methods = pd.read_parquet(plan["output"])["explanation"].map(lambda e: e["method"])
    assert len(methods) == 16 and set(methods) <= {"fast", "exact"}
    batches = verified_night.get_task_instance("open_explanation_run").xcom_pull(
        task_ids="open_explanation_run")
    night_run = client.get_run(batches[0]["run_id"])
    assert night_run.data.tags["dlexplain.method"] == "fast+verify"
    assert night_run.data.metrics["verify_reexplained_rows"] == (methods == "exact").sum()
    assert night_run.data.metrics["verify_reexplained_share"] == pytest.approx(
        (methods == "exact").mean())
    # its exact rows are the fast explainer's failures: never training or held-out data
    from dlexplain.pipelines.train_fast_explainer import explanation_outputs

    outputs = explanation_outputs(exact["run_id"])
    assert plan["output"] not in outputs and len(outputs) == 2

    # fast without a gated fast explainer: fails at log_explainer, no Spark job
    refused = dags["explain_reviews"].test(
        logical_date=pendulum.datetime(2026, 4, 3, tz="UTC"),
        run_conf={"source_model": source, "max_evals": 60, "method": "fast",
                  "explainer_name": "unfitted-explainer", "partition_date": str(NEXT_DAY)})
    assert refused.state == "failed"
    assert refused.get_task_instance("log_explainer").state == "failed"
    assert refused.get_task_instance("batch_explain").state != "success"
    from dlexplain.errors import ConfigError
    from dlexplain.explain.request import RunRequest
    from dlexplain.pipelines.explain_reviews import ensure_explainer

    with pytest.raises(ConfigError, match="passed the fidelity gate"):
        ensure_explainer(source, RunRequest(method="fast", max_evals=60), Settings.from_env(),
                         "unfitted-explainer")
