"""An explainer logged by dlexplain 0.1 (flat layout) still loads and serves with this package.

``data/dlexplain-0.1.0.tar.gz`` is the 0.1 package as it was released (``git archive`` of commit
e7b86a6, ``include/dlexplain``). A subprocess with only that package on its path logs an
explainer the way 0.1 did (models-from-code: its ``pyfunc_entry.py`` runs ``from
dlexplain.mlflow_explainer import ExplainerModel``). This process, with today's package
imported, then loads and explains with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import mlflow
import pandas as pd

import dlexplain
from dlexplain.model.signature import output_columns

ARCHIVE = Path(__file__).parent / "data" / "dlexplain-0.1.0.tar.gz"

LOG_WITH_0_1 = textwrap.dedent("""
    import json, sys
    import dlexplain
    from dlexplain.engine import ExplainerConfig
    from dlexplain.registry import ExplainerSpec, log_explainer
    assert dlexplain.__version__ == "0.1.0", dlexplain.__file__
    run_id = log_explainer(sys.argv[1], ExplainerSpec(ExplainerConfig(max_evals=40)), sys.argv[2],
                           registered_model_name=sys.argv[3])
    print(json.dumps({"run_id": run_id, "package": dlexplain.__file__}))
""")


def test_an_explainer_logged_by_0_1_loads_and_explains(tracking_uri, tiny_model_dir, unique,
                                                       tmp_path):
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(tmp_path / "legacy", filter="data")
    legacy_path = tmp_path / "legacy" / "include"
    env = {**os.environ, "PYTHONPATH": str(legacy_path)}
    done = subprocess.run([sys.executable, "-c", LOG_WITH_0_1, str(tiny_model_dir),
                           f"exp-{unique}", f"legacy-{unique}"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    assert logged["package"].startswith(str(legacy_path)), "the 0.1 code logged it"

    uri = f"runs:/{logged['run_id']}/explainer"
    entry = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    assert "from dlexplain.mlflow_explainer import" in next(entry.rglob("pyfunc_entry.py")
                                                              ).read_text()

    assert dlexplain.__version__ != "0.1.0"
    model = mlflow.pyfunc.load_model(uri)
    assert type(model.unwrap_python_model()).__module__ == "dlexplain.model.pyfunc", \
        "today's package serves it"
    out = model.predict(pd.DataFrame({"text": ["the film was great", None]}))
    assert list(out.columns) == output_columns()
    assert out.loc[0, "error"] is None and out.loc[0, "additivity_error"] < 1e-4
    assert "missing" in out.loc[1, "error"]
    assert set(out["explainer_run_id"]) == {logged["run_id"]}
    assert len(model.unwrap_python_model().identity) == 64, "0.1's identity, computed at load"
