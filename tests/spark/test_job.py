"""The spark-submit job fails fast with a clear message and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dlexplain.spark import application_path

SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")


@pytest.mark.parametrize("problem, args, message", [
    ("no text column", ["--text-column", "review"], "text column 'review' not in input columns"),
    ("no such input", ["--input", "/nonexistent/ds=2026-01-01"], "cannot read input"),
])
def test_a_failed_job_says_why_and_cleans_up(problem, args, message, tmp_path):
    source = tmp_path / "in" / "part-0.parquet"
    source.parent.mkdir()
    pd.DataFrame({"id": [1], "text": ["fine"]}).to_parquet(source, index=False)
    output = tmp_path / "out" / "ds=2026-01-01"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    base = {"--model-uri": str(tmp_path / "no-model"), "--input": str(source.parent),
            "--output": str(output)}
    base.update(zip(args[::2], args[1::2]))
    env = {**os.environ, "TMPDIR": str(scratch), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([SPARK_SUBMIT, "--master", "local[1]",
                           "--conf", f"spark.local.dir={scratch}", application_path(),
                           *[x for pair in base.items() for x in pair]],
                          capture_output=True, text=True, timeout=300, env=env)
    logged = done.stdout + done.stderr  # Spark relays the driver's stderr on its stdout
    assert done.returncode == 2, logged[-3000:]
    assert f"dlexplain batch_explain: error: {message}" in logged
    assert "Traceback" not in logged, problem
    assert not output.parent.exists() or list(output.parent.iterdir()) == [], "no output, no temp"
    assert not list(scratch.glob("dlexplain-job-*")), "the job's work folder is removed"


@pytest.mark.slow
def test_input_on_s3_keeps_every_column(s3_api, tracking_uri, tiny_model_dir, tmp_path, unique,
                                        monkeypatch):
    """A CSV partition in an S3 bucket (moto's S3 API), read by pyarrow: Spark has no S3
    filesystem here; the output keeps every input column. (JSON lines: the REST-triggered run of
    tests/services/test_airflow_standalone.py; Parquet: every other DAG test.)"""
    import pyarrow.parquet as pq

    from dlexplain.config import Settings
    from dlexplain.errors import DataError
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.steps import plan_partition
    from dlexplain.tracking.registry import ExplainerSpec, log_explainer

    s3_api.client.create_bucket(Bucket="tweets")
    lines = pd.DataFrame({"tweet_id": [3, 1, 2], "tweet": ["great film", "awful", ""],
                          "lang": ["en", "en", "en"]}).to_csv(index=False)
    s3_api.client.put_object(Bucket="tweets", Key="ds=2026-01-01/tweets.csv", Body=lines)
    # the DAG's prepare step reads the schema there, and refuses a day that is not there
    for name, value in s3_api.env.items():
        monkeypatch.setenv(name, value)
    template = "s3://tweets/ds={ds}/tweets.csv"
    plan = plan_partition("2026-01-01", template, str(tmp_path / "o"), Settings.from_env(),
                          text_column="tweet")
    assert plan.input == "s3://tweets/ds=2026-01-01/tweets.csv"
    with pytest.raises(DataError, match="does not exist"):
        plan_partition("2026-01-02", template, str(tmp_path / "o"), Settings.from_env())
    model_uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)),
                              f"exp-{unique}", registered_model_name=f"expl-{unique}").model_uri
    output = tmp_path / "out" / "ds=2026-01-01"
    scratch = tmp_path / "scratch"  # the job's temp dir: empty again when it is done
    scratch.mkdir()
    env = {**os.environ, **s3_api.env, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "TMPDIR": str(scratch)}
    done = subprocess.run([SPARK_SUBMIT, "--master", "local[1]", application_path(),
                           "--model-uri", model_uri,
                           "--input", plan.input,
                           "--output", str(output), "--text-column", "tweet",
                           "--id-column", "tweet_id"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    # nothing left behind: the unpacked explainer (88 MB for the default model) went with the
    # application's files; it once stayed in the temp dir, once per worker and job
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("dlexplain-")]
    table = pq.read_table(output)
    assert table.column_names == ["tweet_id", "tweet", "lang", "explanation"]
    assert table.column("tweet_id").to_pylist() == [1, 2, 3]
    errors = table.column("explanation").combine_chunks().field("error").to_pylist()
    assert errors[0] is None and errors[2] is None and "empty" in errors[1]
