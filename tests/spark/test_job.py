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
    ("no such input", ["--input", "/nonexistent/ds=2026-01-01"],
     "input '/nonexistent/ds=2026-01-01' does not exist"),
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
    from dlexplain.model.registry import ExplainerSpec, log_explainer
    from dlexplain.pipelines.partitions import plan_partition

    s3_api.client.create_bucket(Bucket="tweets")
    lines = pd.DataFrame({"tweet_id": [3, 1, 2], "tweet": ["great film", "awful", ""],
                          "lang": ["en", "en", "en"]}).to_csv(index=False)
    s3_api.client.put_object(Bucket="tweets", Key="ds=2026-01-01/tweets.csv", Body=lines)
    # the DAG's prepare step reads the schema there, and refuses a day that is not there
    for name, value in s3_api.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DLEXPLAIN_INPUT_ROOTS", "s3://tweets")  # the roots widened to the bucket
    monkeypatch.setenv("DLEXPLAIN_OUTPUT_ROOTS", str(tmp_path))
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


def _submit(args: list[str], scratch: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(scratch), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable}
    return subprocess.Popen([SPARK_SUBMIT, "--master", "local[1]",
                             "--conf", f"spark.local.dir={scratch}", application_path(), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
def test_one_output_one_job_and_a_failed_rerun_keeps_the_old_output(tracking_uri,
                                                                    tiny_model_dir, tmp_path,
                                                                    unique):
    """Two jobs on one output: the second fails "locked" at once, the first publishes every row
    (no folder nested inside the output). Then a rerun whose every row fails refuses to publish
    and the previous output stays byte for byte."""
    import time

    import pyarrow.parquet as pq

    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.model.registry import ExplainerSpec, log_explainer

    model_uri = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)),
                              f"exp-{unique}").model_uri
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder, texts in ((good, ["fine film", "awful", "so-so"] * 4), (bad, ["", " ", None])):
        folder.mkdir()
        pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(
            folder / "part-0.parquet", index=False)
    output = tmp_path / "out" / "ds=2026-01-01"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = ["--model-uri", model_uri, "--output", str(output), "--max-failed-share", "0.5"]
    first = _submit([*args, "--input", str(good)], scratch)
    lock = Path(f"{output}.lock")
    deadline = time.monotonic() + 120
    while not lock.exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0][-3000:]
        time.sleep(0.2)
    second = _submit([*args, "--input", str(good)], scratch)
    said = second.communicate(timeout=300)[0]
    assert second.returncode not in (0, 2) and "is locked by another job" in said, said[-3000:]
    said = first.communicate(timeout=300)[0]
    assert first.returncode == 0, said[-3000:]
    assert pq.read_table(output).num_rows == 12 and not lock.exists()
    assert not [p for p in output.iterdir() if p.is_dir()], "no folder nested in the output"
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]
    before = _tree(output)

    rerun = _submit([*args, "--input", str(bad)], scratch)
    said = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 2, said[-3000:]
    assert "3 of 3 rows failed, more than the share 0.5 allows" in said
    assert _tree(output) == before
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]


def test_the_job_never_replaces_a_folder_it_did_not_write(tmp_path):
    from dlexplain.spark.summary import SUMMARY_FILE, foreign_output

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    (mine / SUMMARY_FILE).write_text("{}")
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    assert foreign_output(str(mine)) is None and foreign_output(str(tmp_path / "new")) is None
    assert "not written by dlexplain" in foreign_output(str(theirs))
