"""A Spark session on local[2] in this Python process, one a test module (a module that makes
its own session with ``getOrCreate`` and stops it must not get, and stop, a shared one)."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("dlexplain-test")
               .config("spark.ui.enabled", "false").getOrCreate())
    yield session
    session.stop()
