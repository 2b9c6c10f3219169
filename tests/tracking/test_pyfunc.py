"""The explainer pyfunc, logged to the live server and loaded in a fresh Python process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pytest

from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.row import TextExplanation
from dlexplain.model.pyfunc import pinned_requirements
from dlexplain.model.registry import ExplainerSpec, log_explainer
from dlexplain.model.signature import explainer_signature, output_columns

TEXTS = ["What a wonderful, moving film. The acting was superb!", None, "",
         "Dull, predictable and a waste of time.", "An ordinary story, well told."]

LOAD_AND_PREDICT = textwrap.dedent("""
    import json, sys
    import mlflow, pandas as pd
    frame = pd.DataFrame({"text": json.loads(sys.argv[2]), "id": range(5)})
    before = frame.copy(deep=True)
    model = mlflow.pyfunc.load_model(sys.argv[1])
    out = model.predict(frame)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not mutated
    measured = model.predict(frame, params={"faithfulness": True})
    print(json.dumps({"dtypes": {c: str(t) for c, t in out.dtypes.items()},
                      "rows": out.to_dict(orient="records"),
                      "measured": measured.to_dict(orient="records")}))
""")


@pytest.mark.slow
def test_default_explainer_loads_in_a_fresh_process(tracking_uri, default_model, unique):
    spec = ExplainerSpec(ExplainerConfig(max_evals=120))
    explainer = log_explainer(default_model.path, spec, f"exp-{unique}",
                              registered_model_name=f"explainer-{unique}")
    run_id, uri = explainer.run_id, explainer.model_uri
    done = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, uri, json.dumps(TEXTS)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    rows, measured = printed["rows"], printed["measured"]
    assert len(rows) == 5
    assert [list(row) for row in rows] == [output_columns()] * 5
    for i in (0, 3, 4):
        row = rows[i]
        assert row["error"] is None
        assert row["additivity_error"] < 1e-4
        assert isinstance(row["label"], str) and isinstance(row["score"], float)
        assert len(row["tokens"]) == len(row["values"]) > 0
        assert all(len(v) == 2 for v in row["values"])
        assert row["output_names"] == ["NEGATIVE", "POSITIVE"]
        assert row["explainer_run_id"] == run_id
        parsed = TextExplanation.from_json(row["explanation_json"])
        np.testing.assert_allclose(parsed.values, row["values"])
    assert rows[0]["label"] == "POSITIVE" and rows[3]["label"] == "NEGATIVE"
    assert "missing" in rows[1]["error"] and "empty" in rows[2]["error"]
    assert rows[1]["tokens"] == [] and rows[1]["additivity_error"] is None
    # faithfulness only on request (the predict param), the explanation itself unchanged
    assert all(row["faithfulness"] is None for row in rows)
    assert [row["faithfulness"] is None for row in measured] == [False, True, True, False, False]
    assert measured[0]["faithfulness"]["comprehensiveness"] > 0
    assert [r["values"] for r in measured] == [r["values"] for r in rows]


def test_logged_model_has_signature_requirements_and_no_pickle(tracking_uri, tiny_model_dir,
                                                              unique, tmp_path):
    uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=50)),
                        f"exp-{unique}", registered_model_name=f"explainer-{unique}").model_uri
    info = mlflow.models.get_model_info(uri)
    assert info.signature == explainer_signature("text")
    local = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path))
    files = [p.name for p in Path(local).rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))], files
    assert "model.safetensors" in files and "input_example.json" in files
    requirements = (Path(local) / "requirements.txt").read_text()
    for pin in pinned_requirements():
        assert pin in requirements


def test_predict_rejects_missing_text_column(tracking_uri, tiny_model_dir, unique):
    import pandas as pd
    from mlflow.exceptions import MlflowException

    uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=50)),
                        f"exp-{unique}", registered_model_name=f"explainer-{unique}").model_uri
    model = mlflow.pyfunc.load_model(uri)
    with pytest.raises(MlflowException, match="text"):
        model.predict(pd.DataFrame({"body": ["the film"]}))


def test_a_fresh_load_serves_explained_texts_from_the_cache_without_loading_the_model(
        tracking_uri, tiny_model_dir, unique, tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("DLEXPLAIN_EXPLANATION_CACHE_PATH", str(tmp_path / "cache.sqlite"))
    uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=50)),
                        f"exp-{unique}", registered_model_name=f"explainer-{unique}").model_uri
    frame = pd.DataFrame({"text": ["the film was great", None, "a dull movie"]})
    first = mlflow.pyfunc.load_model(uri)
    computed = first.predict(frame)
    assert first.unwrap_python_model().evaluations > 0
    assert first.unwrap_python_model().cache_hits == 0

    again = mlflow.pyfunc.load_model(uri)  # a new process would see the same: state is on disk
    served = again.predict(frame)
    model = again.unwrap_python_model()
    assert model.cache_hits == 2 and model.evaluations == 0
    assert model._explainer is None, "all texts found: the classifier was never loaded"
    pd.testing.assert_frame_equal(served, computed)

    monkeypatch.setenv("DLEXPLAIN_EXPLANATION_CACHE", "off")
    uncached = mlflow.pyfunc.load_model(uri)
    uncached.predict(frame)
    assert uncached.unwrap_python_model().evaluations > 0

