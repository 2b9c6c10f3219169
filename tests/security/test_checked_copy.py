"""Issue 25, item 2: the checked copy is the loaded copy. An explainer passes the check that
redeploy and the nightly ``log_explainer`` task make; then its files are swapped in the tracking
server's store. The scoring server and the Spark job each download, check and load their own
copy, so they refuse the swapped files, and the attacker's code never runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from dlexplain.base.processes import free_port
from dlexplain.explain.config import ExplainerConfig
from dlexplain.model.registry import ExplainerSpec, log_explainer
from dlexplain.model.trust import check_trusted
from dlexplain.spark import application_path
from tests.security.attacks import Marker, changed_package_file, stored_folder

pytestmark = pytest.mark.slow
SPARK_SUBMIT = os.path.join(os.path.dirname(sys.executable), "spark-submit")


def test_files_swapped_after_the_check_are_refused_where_they_load(
        tracking_uri, mlflow_server, tiny_model_dir, unique, tmp_path):
    ref = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=20)),
                        f"swap-{unique}", registered_model_name=f"swap-{unique}")
    check_trusted(ref)  # what redeploy and the log_explainer task check: it passes
    logged = type(ref).of_run(ref.run_id)
    marker = Marker(tmp_path / "marker")
    changed_package_file(stored_folder(mlflow_server.root, logged.model_uri), marker)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "DLEXPLAIN_HOME": str(tmp_path / "home")}

    served = subprocess.run(
        [sys.executable, "-m", "dlexplain.cli", "eaas", "serve", "--model-uri",
         f"models:/{ref.registered_model}/{ref.version}", "--host", "127.0.0.1", "--port",
         str(free_port())], capture_output=True, text=True, timeout=300, env=env)
    said = served.stdout + served.stderr
    assert served.returncode != 0 and "its code differs from the installed" in said, said[-3000:]
    assert "Traceback" not in said, said[-3000:]

    source = tmp_path / "in" / "part-0.parquet"
    source.parent.mkdir()
    pd.DataFrame({"id": [1], "text": ["fine"]}).to_parquet(source, index=False)
    output = tmp_path / "out" / "ds=2026-01-01"
    job = subprocess.run([SPARK_SUBMIT, "--master", "local[1]", application_path(),
                          "--model-uri", logged.model_uri, "--input", str(source.parent),
                          "--output", str(output)],
                         capture_output=True, text=True, timeout=300, env=env)
    said = job.stdout + job.stderr
    assert job.returncode == 2, said[-3000:]
    assert "dlexplain batch_explain: error: untrusted explainer" in said, said[-3000:]
    assert "its code differs from the installed" in said
    assert not output.exists()
    assert not marker.written, "the swapped code never ran"
