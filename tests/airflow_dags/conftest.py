"""Airflow metadata DB for the session (SQLite under the session's AIRFLOW_HOME)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def airflow_db():
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True,
                          text=True, timeout=600, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture()
def dlexplain_home(tmp_path, monkeypatch):
    """Project state of one test (data, outputs, explanation cache) under tmp_path."""
    monkeypatch.setenv("DLEXPLAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DLEXPLAIN_DATA_DIR", str(tmp_path / "home" / "data"))
    monkeypatch.setenv("DLEXPLAIN_EXPLANATION_CACHE_PATH", str(tmp_path / "explanations.sqlite"))
    return tmp_path / "home"
