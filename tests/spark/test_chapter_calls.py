"""The book chapter's own Spark call on the logged explainer: ``mlflow.pyfunc.spark_udf``.

With ``result_type=StringType()`` it returns the explanation JSON (the leftmost output column),
a null text included (a JSON with ``error``); with the default struct result type nulls stay
null (MLflow's conversion alone would turn them into the string ``"None"``).
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.row import TextExplanation
from dlexplain.model.registry import ExplainerSpec, log_explainer
from tests.checks import assert_additive

pytestmark = pytest.mark.slow
TEXTS = ["the film was great", None, "a dull and boring movie"]


def test_the_chapters_spark_udf_calls(spark, tracking_uri, tiny_model_dir, unique):
    from pyspark.sql.types import StringType

    model_uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=40)),
                              f"exp-{unique}", registered_model_name=f"expl-{unique}").model_uri
    frame = spark.createDataFrame(pd.DataFrame({"text": TEXTS}), "text string")

    as_json = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=StringType(),
                                      env_manager="local")
    rows = frame.withColumn("explanation", as_json("text")).collect()
    parsed = [TextExplanation.from_json(row.explanation) for row in rows]
    assert parsed[0].ok and parsed[2].ok
    assert_additive(parsed)
    assert "".join(parsed[0].tokens) == TEXTS[0]
    assert not parsed[1].ok and "missing" in parsed[1].error

    as_struct = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    rows = frame.withColumn("e", as_struct("text")).select("e.*").collect()
    assert rows[1].label is None and rows[1].score is None, "a null stays null, not 'None'"
    assert "missing" in rows[1].error
    assert rows[0].faithfulness.comprehensiveness is None, "faithfulness only on request"

    measured = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local",
                                       params={"faithfulness": True})
    rows = frame.withColumn("e", measured("text")).select("e.*").collect()
    figures = [TextExplanation.from_dict(row.asDict(recursive=True)).faithfulness for row in rows]
    assert figures[1] is None  # the missing text
    assert any(f is not None and abs(f.random_comprehensiveness) <= 1 for f in figures)
    assert rows[0].error is None and rows[2].error is None
    assert rows[0].label in ("NEGATIVE", "POSITIVE") and rows[0].explainer_run_id


def test_the_audit_sample_follows_its_fraction_and_seed(spark):
    """A fast+audit night's sample: the ``audit_fraction`` of the texts, chosen by the seed (the
    same texts on every night for one seed, other texts for another)."""
    from pyspark.sql import functions as F

    from dlexplain.spark.job import audit_sample

    frame = spark.createDataFrame([(f"review number {i}",) for i in range(400)], ["text"])

    def sample(fraction: float, seed: int) -> set[str]:
        picked = frame.filter(audit_sample(F.col("text"), fraction, seed)).collect()
        return {row.text for row in picked}

    first, again, other = sample(0.25, 0), sample(0.25, 0), sample(0.25, 7)
    assert first == again and first != other
    assert 60 <= len(first) <= 140 and 60 <= len(other) <= 140
    assert sample(0.0, 0) == set() and len(sample(1.0, 3)) == 400
