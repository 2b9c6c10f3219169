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
