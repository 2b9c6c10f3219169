"""A Spark session on local[2] in this Python process, shared by the tests of a worker."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("dlexplain-test")
               .config("spark.ui.enabled", "false").getOrCreate())
    yield session
    session.stop()
