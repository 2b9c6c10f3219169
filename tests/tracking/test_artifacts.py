"""log_explanations into a run on the live server; artifacts round-trip without pickle.

Twice: with the server's artifacts in files, and proxied to an S3 API (moto's standalone
server), the way the production stack proxies them to MinIO: the client holds no S3 credentials.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from dlexplain.errors import DataError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer
from dlexplain.tracking.artifacts import log_explanations
from dlexplain.tracking.runs import experiment_id
from dlexplain.tracking.server import start_server, stop_server
from tests.services.s3 import S3_CREDENTIALS

TEXTS = ["the film was great", None, "a dull and boring movie", "love this story , best acting !"]
PREFIX = "explanations/ds=2026-01-03/batch-0000"
BUCKET = "dlexplain-artifacts"


@pytest.fixture()
def s3_tracking_uri(s3_api, tmp_path, monkeypatch):
    """An MLflow server whose artifacts go to a bucket of a local S3 API; yields (uri, keys)."""
    s3 = s3_api.client
    s3.create_bucket(Bucket=BUCKET)
    server = start_server(tmp_path / "mlflow", artifacts_destination=f"s3://{BUCKET}/mlflow",
                          env={"MLFLOW_S3_ENDPOINT_URL": s3_api.endpoint, **S3_CREDENTIALS})
    try:
        for name in (*S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)

        def keys() -> list[str]:
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="mlflow/")
            return [item["Key"] for item in listed.get("Contents", [])]

        yield server.url, keys
    finally:
        mlflow.set_tracking_uri(None)
        stop_server(tmp_path / "mlflow")


@pytest.fixture(scope="module")
def results():
    from dlexplain.explain.classifier import TextClassifier
    from tests.tiny_model import make_tiny_model

    model, tokenizer = make_tiny_model()
    explainer = Explainer(TextClassifier(model, tokenizer, device="cpu"),
                          ExplainerConfig(max_evals=60))
    return explainer.explain(TEXTS)


@pytest.mark.parametrize("store", ["files", "s3"])
def test_artifacts_round_trip(store, request, results, unique, tmp_path):
    if store == "s3":
        _, s3_keys = request.getfixturevalue("s3_tracking_uri")
    else:
        request.getfixturevalue("tracking_uri")
    run = MlflowClient().create_run(experiment_id(f"exp-{unique}"))
    summary = log_explanations(results, PREFIX, run_id=run.info.run_id,
                               class_names=["POSITIVE"], step=0)
    local = Path(MlflowClient().download_artifacts(run.info.run_id, PREFIX, str(tmp_path)))

    png = local / "bar_POSITIVE.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(png).shape[0] > 100
    assert {p.name for p in local.glob("*.png")} == {
        "bar_POSITIVE.png", f"first_row_{results[0].label}.png"}

    html = sorted((local / "text").glob("*.html"))
    assert [p.name for p in html] == ["row-0000.html", "row-0002.html", "row-0003.html"]
    assert "great" in html[0].read_text() and "<div" in html[0].read_text()

    arrays = np.load(local / "shap_values.npz", allow_pickle=False)
    offsets = arrays["offsets"]
    assert offsets.tolist()[:3] == [0, len(results[0].tokens), len(results[0].tokens)]
    for i, result in enumerate(results):
        np.testing.assert_array_equal(arrays["values"][offsets[i]:offsets[i + 1]],
                                      result.values.reshape(-1, 2))
        assert arrays["tokens"][offsets[i]:offsets[i + 1]].tolist() == list(result.tokens)
    assert arrays["output_names"].tolist() == ["NEGATIVE", "POSITIVE"]
    base = np.load(local / "base_values.npy", allow_pickle=False)
    np.testing.assert_array_equal(base[0], results[0].base_values)
    assert np.isnan(base[1]).all()

    written = json.loads((local / "summary.json").read_text())
    assert written == summary
    assert (written["rows"], written["explained"], written["failed"]) == (4, 3, 1)
    assert written["errors"] == [{"row": 1, "error": results[1].error}]
    assert written["max_additivity_error"] < 1e-4
    assert set(written["top_tokens"]) == {"NEGATIVE", "POSITIVE"}

    metrics = MlflowClient().get_run(run.info.run_id).data.metrics
    assert metrics["rows_explained"] == 3 and metrics["rows_failed"] == 1
    assert metrics["batch_max_additivity_error"] < 1e-4

    if store == "s3":  # the bytes are in the bucket, under the run
        stored = [k for k in s3_keys() if f"/{run.info.run_id}/artifacts/{PREFIX}/" in k]
        assert {k.rsplit("/", 1)[-1] for k in stored} >= {
            "bar_POSITIVE.png", "shap_values.npz", "base_values.npy", "summary.json"}


def test_unknown_class_is_rejected(tracking_uri, results, unique):
    run = MlflowClient().create_run(experiment_id(f"exp-{unique}"))
    with pytest.raises(DataError, match="NEUTRAL"):
        log_explanations(results, PREFIX, run_id=run.info.run_id, class_names=["NEUTRAL"])


def test_a_batch_logs_whatever_experiment_the_process_has(tracking_uri, results, unique,
                                                          monkeypatch, tmp_path):
    """A task process may have an active experiment of its own: every batch of the family tests
    failed in CI once another test in the same worker had called ``mlflow.set_experiment``
    ("Cannot start run with ID … because active experiment ID does not match"). The batch step
    names its run and does not care."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlflow.tracking import fluent

    from dlexplain.explain.row import to_arrow
    from dlexplain.pipelines.batches import BatchItem, log_batch

    output = tmp_path / "out.parquet"
    pq.write_table(pa.table({"explanation": to_arrow(results).to_struct_array()}), output)
    run = MlflowClient().create_run(experiment_id(f"exp-{unique}"))
    # the process-wide state set_experiment writes, restored after this test
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mlflow.set_experiment(f"other-{unique}")
    # two batches of 2 rows in one work item (a night of more batches than its artifact
    # groups): logged as one group under the first batch's prefix
    item = BatchItem(run_id=run.info.run_id, output=str(output), partition="ds=2026-01-01",
                     batch=0, rows_per_batch=2, batches=2)
    summary = log_batch(item)
    assert (summary.rows, summary.explained) == (4, 3)
    names = {a.path.rsplit("/", 1)[-1] for a in MlflowClient().list_artifacts(
        run.info.run_id, item.prefix(0))}
    assert {"summary.json", "shap_values.npz"} <= names
    assert not MlflowClient().list_artifacts(run.info.run_id, item.prefix(1))
    logged = np.load(MlflowClient().download_artifacts(
        run.info.run_id, f"{item.prefix(0)}/shap_values.npz", str(tmp_path)), allow_pickle=False)
    assert len(logged["offsets"]) == 4 + 1


def test_text_plots_are_a_bounded_sample():
    from dlexplain.explain.row import TextExplanation
    from dlexplain.tracking.artifacts import TEXT_PLOTS, text_plot_rows

    names = ("NEGATIVE", "POSITIVE")
    ok = TextExplanation.explained(["a", "b"], np.full((2, 2), 0.1), np.array([0.4, 0.4]),
                                   np.array([0.6, 0.6]), names)
    failed = TextExplanation.failed("no text", names)
    assert text_plot_rows([failed] * 3) == []
    assert text_plot_rows([ok, failed, ok]) == [0, 2]
    night = [ok] * 1000
    night[5] = failed
    picked = text_plot_rows(night)
    assert len(picked) == TEXT_PLOTS == 4 and picked == [0, 334, 666, 999]
    assert text_plot_rows(night[:7]) == [0, 2, 3, 6]  # row 5 failed: never plotted


def test_default_plots_every_predicted_class(results, tmp_path):
    """No class asked: one bar plot per class the batch predicts, and the first row's plot."""
    from dlexplain.tracking.artifacts import write_explanations

    summary = write_explanations(results, tmp_path)
    predicted = sorted({r.label for r in results if r.ok})
    assert summary["plotted_classes"] == predicted
    assert sorted(p.name for p in tmp_path.glob("bar_*.png")) == [f"bar_{c}.png" for c in predicted]
    assert (tmp_path / f"first_row_{results[0].label}.png").is_file()


def test_a_batch_retried_after_mlflow_was_away_logs_once(results, tmp_path, monkeypatch):
    """MLflow stops while a night's batches are logged: the task fails with a transient error
    (not a DlexplainError: Airflow retries it, with backoff), and its retries once the server is
    back, even one after a success, leave each batch's artifacts and metric points once and no
    other run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dlexplain.errors import DlexplainError
    from dlexplain.explain.row import to_arrow
    from dlexplain.pipelines.batches import BatchItem, log_batch

    root = tmp_path / "mlflow"
    server = start_server(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    try:
        output = tmp_path / "out.parquet"
        pq.write_table(pa.table({"explanation": to_arrow(results).to_struct_array()}), output)
        experiment = MlflowClient().create_experiment("night")
        run = MlflowClient().create_run(experiment)
        item = BatchItem(run_id=run.info.run_id, output=str(output), partition="ds=2026-01-01",
                         batch=0, rows_per_batch=2, batches=2, timestamp_ms=1_767_225_600_000)
        stop_server(root)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        with pytest.raises(Exception) as failed:
            log_batch(item)
        assert not isinstance(failed.value, DlexplainError), "transient: left to Airflow's retries"
        server = start_server(root, port=int(server.url.rsplit(":", 1)[1]))  # back, same store
        summaries = [log_batch(item), log_batch(item)]  # the retry, and one more after it
        assert summaries[0] == summaries[1] and summaries[0].rows == 4
        client = MlflowClient()
        names = [a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(
            run.info.run_id, item.prefix(0))]
        assert len(names) == len(set(names)) and "shap_values.npz" in names
        history = client.get_metric_history(run.info.run_id, "rows_explained")
        assert [m.step for m in history] == [0], "one point per group, not per try"
        assert len(client.search_runs([experiment])) == 1
    finally:
        stop_server(root)
