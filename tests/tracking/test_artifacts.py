"""log_explanations into a run on the live server; artifacts round-trip without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from dlexplain.artifacts import log_explanations
from dlexplain.engine import Explainer, ExplainerConfig
from dlexplain.errors import DataError

TEXTS = ["the film was great", None, "a dull and boring movie", "love this story , best acting !"]
PREFIX = "explanations/ds=2026-01-03/batch-0000"


@pytest.fixture(scope="module")
def results():
    from tests.tiny_model import make_tiny_model
    from dlexplain.classifier import TextClassifier

    model, tokenizer = make_tiny_model()
    explainer = Explainer(TextClassifier(model, tokenizer, device="cpu"),
                          ExplainerConfig(max_evals=60))
    return explainer.explain(TEXTS)


def test_artifacts_round_trip(tracking_uri, results, unique, tmp_path):
    mlflow.set_experiment(f"exp-{unique}")
    with mlflow.start_run() as run:
        summary = log_explanations(results, PREFIX, class_name="POSITIVE", step=0)
    local = Path(MlflowClient().download_artifacts(run.info.run_id, PREFIX, str(tmp_path)))

    png = local / "bar_POSITIVE.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(png).shape[0] > 100

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
    assert metrics["max_additivity_error"] < 1e-4


def test_unknown_class_is_rejected(tracking_uri, results, unique):
    mlflow.set_experiment(f"exp-{unique}")
    with mlflow.start_run(), pytest.raises(DataError, match="NEUTRAL"):
        log_explanations(results, PREFIX, class_name="NEUTRAL")
