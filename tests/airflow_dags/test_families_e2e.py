"""explain_reviews end to end on each supported model family, with default params.

BERT (WordPiece, 2 labels), DistilBERT (WordPiece, 3 labels) and RoBERTa (byte-level BPE, token-id
masking), all tiny and random, each through the whole DAG (``dag.test()``, live MLflow server,
Spark ``local[2]``): every input row comes out, additivity < 1e-4, one bar plot per predicted
class, tokens that concatenate back to the text; the stored rows render with shap's own plots.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pendulum
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from dlexplain.defaults.data import partition_path
from dlexplain.explain.table import read_explanations
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (EXPLANATIONS_EXPERIMENT, TAG_DAG_ID, TAG_LOGICAL_DATE,
                                     experiment_id)
from tests.checks import additivity, run_failures

pytestmark = pytest.mark.slow
DAY = date(2026, 3, 1)
TEXTS = [
    "A wonderful, moving film: the acting is superb.",
    "Boring plot, awful acting, a waste of time!",
    "Café crème — naïve 😀 but fun",
    "It was  fine,\tI guess.",
    "The worst movie I have seen this year. Predictable and dull, dull, dull.",
]


@pytest.fixture()
def partition(dlexplain_home):
    path = partition_path(dlexplain_home / "data", DAY)
    path.parent.mkdir(parents=True)
    pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "text": TEXTS,
                  "source": "test"}).to_parquet(path, index=False)
    return path


def _bar_plots(run_id: str) -> dict[str, set[str]]:
    """Bar plot file names per batch folder of the explanation run."""
    client = MlflowClient()
    folders = client.list_artifacts(run_id, f"explanations/ds={DAY}")
    return {f.path.rsplit("/", 1)[-1]: {a.path.rsplit("/", 1)[-1]
                                        for a in client.list_artifacts(run_id, f.path)
                                        if a.path.endswith(".png")}
            for f in folders}


@pytest.mark.parametrize("family", ["bert", "distilbert", "roberta"])
def test_each_family_through_the_dag(family, airflow_db, tracking_uri, dlexplain_home, partition,
                                     tiny_family_dirs):
    import shap
    from airflow.dag_processing.dagbag import DagBag

    from dlexplain import to_shap
    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    source = str(tiny_family_dirs[family])
    run = dag.test(logical_date=pendulum.datetime(2026, 3, 1, tz="UTC"),
                   run_conf={"source_model": source, "rows_per_batch": 3})
    assert run.state == "success", run_failures(run)

    table = pq.read_table(dlexplain_home / "explanations" / "reviews" / f"ds={DAY}")
    assert table.column_names == ["id", "text", "source", "explanation"]
    assert table.column("id").to_pylist() == [f"r{i}" for i in range(len(TEXTS))]
    results = read_explanations(table)
    for text, result in zip(table.column("text").to_pylist(), results):
        assert result.ok, result.error
        assert additivity(result) < 1e-4, (family, text)  # recomputed from the stored row
        speaks_for_label = result.values[:, result.output_names.index(result.label)].max() > 0
        assert (result.faithfulness is not None) == speaks_for_label, family  # on by default
        joined = "".join(result.tokens)
        assert joined == text.strip() or (result.truncated and text.startswith(joined)), \
            (family, result.tokens)
    assert len(results[0].output_names) == (3 if family == "distilbert" else 2)

    (explanation_run,) = MlflowClient().search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)],
        filter_string=where({tag(TAG_DAG_ID): "explain_reviews", tag(TAG_LOGICAL_DATE): str(DAY)}))
    plots = _bar_plots(explanation_run.info.run_id)
    assert sorted(plots) == ["batch-0000", "batch-0001"]
    for batch, names in plots.items():
        rows = results[:3] if batch == "batch-0000" else results[3:]
        predicted = {r.label for r in rows}
        assert {n for n in names if n.startswith("bar_")} == {f"bar_{c}.png" for c in predicted}
        assert f"first_row_{rows[0].label}.png" in names

    explainer = run.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer")
    assert explainer["registered_model"] == f"{tiny_family_dirs[family].name}-explainer"

    # a stored row back into shap's own plots
    row = table.column("explanation").combine_chunks()[0].as_py()
    html = shap.plots.text(to_shap(row), display=False)
    words = [t.strip() for t in results[0].tokens if t.strip().isalpha()]
    assert "<div" in html and words and all(w in html for w in words)
