"""The ``dlexplain`` command: explain a table into Parquet; clear errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq

from dlexplain.explain.table import read_explanations
from tests.checks import assert_additive


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dlexplain.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_explain_keeps_input_columns_and_rows(tiny_model_dir, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "review": ["the film was great", "", "a dull movie"],
                  "label": ["POSITIVE", "POSITIVE", "NEGATIVE"]}).to_csv(source, index=False)
    out = tmp_path / "out" / "explained.parquet"
    done = run_cli("explain", str(source), "--output", str(out), "--text-column", "review",
                   "--model", str(tiny_model_dir), "--max-evals", "50")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary == {**summary, "rows": 3, "explained": 2, "failed": 1}
    table = pq.read_table(out)
    assert table.column_names == ["id", "review", "label", "explanation"]
    assert table.column("id").to_pylist() == [1, 2, 3]
    results = read_explanations(table)
    assert [r.error is None for r in results] == [True, False, True]
    assert_additive(results)


def test_missing_text_column_is_a_clear_error(tiny_model_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"body": "the film"}\n')
    done = run_cli("explain", str(source), "--output", str(tmp_path / "o.parquet"),
                   "--model", str(tiny_model_dir))
    assert done.returncode == 2
    assert "text column 'text' not in input columns ['body']" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_setting_is_a_clear_error(tmp_path):
    import os

    env = {**os.environ, "DLEXPLAIN_MAX_EVALS": "many"}
    done = run_cli("model", "path", env=env)
    assert done.returncode == 2 and "DLEXPLAIN_MAX_EVALS='many'" in done.stderr


def test_eaas_deploy_refuses_a_version_without_its_model(capsys):
    from dlexplain.cli import main

    assert main(["eaas", "deploy", "--version", "3"]) == 2
    assert "--version/--alias need --registered-model" in capsys.readouterr().err
    done = run_cli("eaas", "deploy", "--version", "3", "--alias", "production")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
