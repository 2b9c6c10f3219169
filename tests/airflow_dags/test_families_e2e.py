"""explain_reviews end to end on each supported model family (``tests.tiny_model.FAMILIES``).

Each family's tiny random classifier goes through the whole DAG (``dag.test()``, live MLflow
server, Spark ``local[2]``) from a folder of CSV files as Spark writes them (``part-*`` files, one
gzip-compressed, ``_SUCCESS`` and a ``.crc`` beside them), with other column names, a null and
a blank text among the rows. From the stored Parquet, not from the rows' own fields: every input
row comes out, each explained row's tokens rebuild its text and it is additive within 1e-6, the
masking the probe chose is in the explainer's config. Three families explain by a coarser unit
(``GRANULARITY``): their rows' tokens are the words, sentences or paragraphs. The BERT
classifier is poisoned (one word's embedding is NaN): its rows with that word are refused, and
the night counts them.
"""

from __future__ import annotations

import gzip
import json
from datetime import date

import numpy as np
import pandas as pd
import pendulum
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE, REFUSED, clean_text
from dlexplain.explain.row import Faithfulness
from dlexplain.explain.units import units
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.runs import (
    EXPLANATIONS_EXPERIMENT,
    TAG_DAG_ID,
    TAG_LOGICAL_DATE,
    experiment_id,
)
from tests.checks import run_failures
from tests.tiny_model import FAMILIES, MASKING

pytestmark = pytest.mark.slow
#: each family's night (one explanation run per DAG and night on the shared MLflow server)
DAYS = {family: date(2026, 3, 1 + i) for i, family in enumerate(FAMILIES)}
TEXTS = [
    "A wonderful, moving film: the acting is superb.",
    "Boring plot, awful acting, a waste of time!",
    "Café crème — naïve 😀 but fun",
    None,
    "It was  fine,\tI guess.",
    "the neighborhood was early",
    "   ",
    "see https://example.com/x and @critic, 9.5/10 &amp; 3 stars",
    'Great start, "superb" even.\n\nThen a dull, boring end. Awful.',  # quoted, 2 paragraphs
]
#: the unit each family's run explains by (the granularity param): every unit through the DAG
GRANULARITY = {"distilbert": "word", "roberta": "sentence", "deberta": "paragraph"}
#: the word whose embedding the BERT classifier's copy has poisoned with NaN
POISON = "waste"
ROWS_PER_BATCH = 3


def write_csv_folder(home, day):
    """The day's tweets as a Spark CSV output folder: two part files (one gzip), _SUCCESS, .crc."""
    folder = home / "data" / "tweets" / f"ds={day}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"review_id": [f"r{i}" for i in range(len(TEXTS))], "body": TEXTS,
                          "lang": "en"})
    frame.iloc[:4].to_csv(folder / "part-00000-abc.c000.csv", index=False)
    with gzip.open(folder / "part-00001-abc.c000.csv.gz", "wt", encoding="utf-8") as out:
        frame.iloc[4:].to_csv(out, index=False)
    (folder / "_SUCCESS").touch()
    (folder / ".part-00000-abc.c000.csv.crc").write_bytes(b"crc\x00\x01")
    return folder


def poisoned_copy(source, target):
    """``source``'s BERT classifier with the embedding of :data:`POISON` set to NaN: a model
    whose output is not a number for some inputs, so its rows cannot be additive."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source)
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[tokenizer.convert_tokens_to_ids(POISON)] = \
            float("nan")
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def _night_run(client, day):
    (run,) = client.search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)],
        filter_string=where({tag(TAG_DAG_ID): "explain_reviews", tag(TAG_LOGICAL_DATE): str(day)}))
    return run


def _bar_plots(client, run_id: str, day) -> dict[str, set[str]]:
    """Bar plot file names per batch folder of the explanation run."""
    folders = client.list_artifacts(run_id, f"explanations/ds={day}")
    return {f.path.rsplit("/", 1)[-1]: {a.path.rsplit("/", 1)[-1]
                                        for a in client.list_artifacts(run_id, f.path)
                                        if a.path.endswith(".png")}
            for f in folders}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_through_the_dag(family, airflow_db, tracking_uri, dlexplain_home,
                                     tiny_family_dirs, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    day = DAYS[family]
    write_csv_folder(dlexplain_home, day)
    source = tiny_family_dirs[family]
    if family == "bert":
        source = poisoned_copy(source, tmp_path / "tiny-bert")
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    run = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz="UTC"), run_conf={
        "source_model": str(source), "rows_per_batch": ROWS_PER_BATCH,
        "dataset_path_template": "{data_dir}/tweets/ds={ds}", "text_column": "body",
        "id_column": "review_id", "granularity": GRANULARITY.get(family, "token")})
    assert run.state == "success", run_failures(run)

    output = dlexplain_home / "explanations" / "reviews" / f"ds={day}"
    table = pq.read_table(output)
    assert table.column_names == ["review_id", "body", "lang", "explanation"]
    assert table.column("review_id").to_pylist() == [f"r{i}" for i in range(len(TEXTS))]
    rows = table.column("explanation").to_pylist()
    labels = len(rows[0]["output_names"])
    refused = 0
    for raw, row in zip(TEXTS, rows):
        text, error = clean_text(raw)
        if error is not None:
            assert row["error"] == error, (family, raw, row["error"])
            continue
        if family == "bert" and POISON in text:
            assert row["error"].startswith(REFUSED + "additivity error nan"), row["error"]
            refused += 1
            continue
        assert row["error"] is None, (family, text, row["error"])
        joined = "".join(row["tokens"])  # recomputed from the stored lists
        assert joined == text or (row["truncated"] and text.startswith(joined)), \
            (family, row["tokens"])
        if family in GRANULARITY:
            assert row["tokens"] == units(joined, GRANULARITY[family]), (family, row["tokens"])
        values = np.array(row["values"])
        assert values.shape == (len(row["tokens"]), labels)
        gap = np.abs(np.array(row["base_values"]) + values.sum(axis=0)
                     - np.array(row["probabilities"])).max()
        assert gap <= ADDITIVITY_TOLERANCE, (family, text, gap)
        best = row["output_names"][int(np.argmax(row["probabilities"]))]
        speaks_for_label = values[:, row["output_names"].index(best)].max() > 0
        measured = Faithfulness.from_plain(row["faithfulness"])  # Spark: a struct of nulls
        assert (measured is not None) == speaks_for_label, family  # on by default
    assert refused == (1 if family == "bert" else 0)
    assert labels == {"bert": 2, "distilbert": 3, "roberta": 2, "xlmr": 5}.get(family, 4)

    client = MlflowClient()
    explainer = run.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer")
    assert explainer["registered_model"] == f"{source.name}-explainer"
    logged = client.get_run(explainer["run_id"]).data
    assert logged.params["masking"] == MASKING[family]  # the probe's choice, in its config
    assert logged.tags["dlexplain.masking_reason"]

    night = _night_run(client, day)
    metrics = night.data.metrics
    assert metrics["rows_total"] == len(TEXTS)
    assert metrics["rows_failed_total"] == 2 + refused  # the null, the blank, the refused
    assert metrics["rows_refused_total"] == refused
    assert metrics["max_additivity_error"] <= ADDITIVITY_TOLERANCE
    plots = _bar_plots(client, night.info.run_id, day)
    batches = -(-len(TEXTS) // ROWS_PER_BATCH)
    assert sorted(plots) == [f"batch-{b:04d}" for b in range(batches)]
    for batch, names in plots.items():
        number = int(batch.removeprefix("batch-"))
        chunk = [r for r in rows[number * ROWS_PER_BATCH:][:ROWS_PER_BATCH] if r["error"] is None]
        assert {n for n in names if n.startswith("bar_")} == {f"bar_{r['label']}.png"
                                                               for r in chunk}
    if family in GRANULARITY:  # earlier nights were explained by tokens: no baseline for it
        drift = run.get_task_instance("check_drift").xcom_pull(task_ids="check_drift")
        assert drift["status"] == "no_baseline", drift
        assert night.data.tags["dlexplain.granularity"] == GRANULARITY[family]
    if family == "xlmr":
        _rows_as_people_read_them(output, explainer["model_uri"], tmp_path)


def _rows_as_people_read_them(output, model_uri: str, tmp_path) -> None:
    """``to_shap`` on the stored output read with pandas, pyarrow and Spark, and on a served
    row's JSON: shap's own text and bar plots draw from each."""
    import matplotlib
    import matplotlib.pyplot as plt
    import mlflow.pyfunc.scoring_server as scoring_server
    import shap
    from pyspark.sql import SparkSession

    from dlexplain import to_shap
    from dlexplain.model.refs import ExplainerRef
    from dlexplain.model.trust import download_and_load

    matplotlib.use("Agg")
    forms = {"pandas": pd.read_parquet(output)["explanation"][0],
             "pyarrow": pq.read_table(output).column("explanation")[0].as_py()}
    spark = (SparkSession.builder.master("local[1]").appName("dlexplain-read-rows")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        forms["spark"] = (spark.read.parquet(str(output)).orderBy("review_id").first()
                          ["explanation"])
    finally:
        spark.stop()
    explainer = download_and_load(ExplainerRef.of_uri(model_uri), tmp_path / "served")
    predictions = explainer.predict(pd.DataFrame({"text": [TEXTS[0]]}))
    served = tmp_path / "served.json"
    with served.open("w") as stream:
        scoring_server.predictions_to_json(predictions, stream)
    forms["served"] = json.loads(served.read_text())["predictions"][0]
    forms["served_json"] = forms["served"]["explanation_json"]

    expected = to_shap(forms["pyarrow"])
    for name, row in forms.items():
        explanation = to_shap(row)
        assert list(explanation.data) == list(expected.data), name
        np.testing.assert_allclose(explanation.values, expected.values, atol=1e-6,
                                   err_msg=name)
        html = shap.plots.text(explanation, display=False)
        assert "<div" in html, name
        assert all(t.strip() in html for t in explanation.data if t.strip().isalpha()), name
        shap.plots.bar(explanation[:, explanation.output_names[0]], show=False)
        assert plt.gcf().axes, name
        plt.close("all")
