"""Shared fixtures: a tiny random BERT (built here, no download) and the cached default model."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest

from dlexplain.config import Settings
from dlexplain.tracking.server import start_server, stop_server
from tests.tiny_model import (
    FAMILIES,
    make_tiny_model,
    make_tiny_sentiment_model,
)

REPO = Path(__file__).resolve().parents[1]


_AIRFLOW_HOME = pytest.StashKey[str]()


def pytest_configure(config):
    """Airflow reads its configuration once, at import: give the session its own home first."""
    _CONFIG[:] = [config]
    venv_bin = str(Path(sys.executable).parent)  # spark-submit, airflow, mlflow of this venv
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    home = tempfile.mkdtemp(prefix="dlexplain-airflow-")
    config.stash[_AIRFLOW_HOME] = home
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # a pytest-xdist worker inherits the controller's environment: it gets its own Airflow
        # database and explanation cache, so workers never share a SQLite file
        os.environ["AIRFLOW_HOME"] = home
        os.environ["DLEXPLAIN_EXPLANATION_CACHE_PATH"] = os.path.join(home, "explanations.sqlite")
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    os.environ.setdefault("AIRFLOW_CONN_SPARK_DEFAULT", "spark://local%5B2%5D")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # explanations cached by tests stay in the session, never in the machine's cache
    os.environ.setdefault("DLEXPLAIN_EXPLANATION_CACHE_PATH", os.path.join(home, "explanations.sqlite"))


def pytest_unconfigure(config):
    """The session's Airflow home (its database, logs, explanation cache) goes with it."""
    home = config.stash.get(_AIRFLOW_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


#: Seconds each test file took in the last run that ran it (setup, call and teardown of its tests),
#: written by the suite at its end (:func:`pytest_sessionfinish`; files that did not run keep their
#: figure). With two workers and ``--dist loadfile`` a file goes to the next free worker in
#: collection order: started last, the 15-minute standalone Airflow file once ran alone at the end
#: of the suite. The longest files go first, so both workers stay busy until the end.
DURATIONS = REPO / "tests" / "durations.json"
_SECONDS = pytest.StashKey[dict]()


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def recorded_durations() -> dict[str, float]:
    """The recorded seconds per test file ({} when none are recorded)."""
    try:
        return {k: float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    except (OSError, ValueError):
        return {}


def longest_first(paths: list[str], durations: dict[str, float]) -> list[str]:
    """``paths`` by recorded duration, longest first; files never timed keep their order last."""
    return sorted(paths, key=lambda path: -durations.get(path, -1.0))


def pytest_collection_modifyitems(config, items):
    """Run the longest files first (stable: the tests of a file keep their order)."""
    files = list(dict.fromkeys(_file_of(item.nodeid) for item in items))
    rank = {path: i for i, path in enumerate(longest_first(files, recorded_durations()))}
    items.sort(key=lambda item: rank[_file_of(item.nodeid)])


def pytest_runtest_logreport(report):
    """Add each phase's seconds to its file (on the controller: workers' reports arrive there)."""
    seconds = _session_seconds()
    if seconds is not None:
        path = _file_of(report.nodeid)
        seconds[path] = seconds.get(path, 0.0) + report.duration


_CONFIG: list = []


def _session_seconds() -> dict | None:
    if not _CONFIG or hasattr(_CONFIG[0], "workerinput"):
        return None
    return _CONFIG[0].stash.setdefault(_SECONDS, {})


def pytest_sessionfinish(session, exitstatus):
    """Record the seconds of the files this run ran into ``tests/durations.json``."""
    seconds = _session_seconds()
    if not seconds or hasattr(session.config, "workerinput"):
        return
    durations = recorded_durations() | {path: round(s, 1) for path, s in seconds.items()}
    DURATIONS.write_text(json.dumps(dict(sorted(durations.items())), indent=1) + "\n")


@pytest.fixture(autouse=True)
def restore_sys_path():
    """``sys.path`` as the test found it. ``mlflow.pyfunc.load_model`` puts the model's ``code/``
    folder first on the loading process's path: after a test loaded an explainer logged by 0.1, the
    processes a later test spawned on the same worker found 0.1's flat ``dlexplain`` first."""
    before = list(sys.path)
    yield
    sys.path[:] = before


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    import torch

    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny model folder (loads like any Hugging Face folder)."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    make_tiny_model(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_family_dirs(tmp_path_factory, settings):
    """One saved tiny classifier per supported family (``tests.tiny_model.FAMILIES``): BERT and
    DistilBERT (WordPiece), RoBERTa and GPT-2 (byte-level BPE), XLM-R and DeBERTa-v2
    (SentencePiece Unigram), Llama (BPE with byte fallback); tokenizers trained on the packaged
    IMDb reviews."""
    from dlexplain.defaults import load_reviews

    texts = load_reviews(settings.paths.cache_dir)["text"].head(2000).tolist()
    folders = {name: tmp_path_factory.mktemp(f"tiny-{name}") for name in FAMILIES}
    for name, (build, uses_texts) in FAMILIES.items():
        if uses_texts:
            build(texts, folders[name])
        else:
            build(folders[name])
    return folders


@pytest.fixture(scope="session")
def tiny_sentiment_dir(tmp_path_factory):
    """A saved tiny BERT trained to tell positive from negative words (explanations a fast
    explainer can learn)."""
    folder = tmp_path_factory.mktemp("tiny-sentiment")
    make_tiny_sentiment_model(folder)
    return folder


@pytest.fixture()
def tiny_classifier():
    from dlexplain.explain.classifier import TextClassifier

    model, tokenizer = make_tiny_model()
    return TextClassifier(model, tokenizer, batch_size=8, device="cpu")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def default_model(settings):
    """The embedded default model, built once per machine (``make test`` builds it first)."""
    from dlexplain.defaults import build_default_model

    return build_default_model(settings.paths.cache_dir)


@pytest.fixture(scope="session")
def holdout_reviews(settings):
    """Cleaned IMDb reviews never used in training or model evaluation."""
    from dlexplain.defaults import load_reviews

    reviews = load_reviews(settings.paths.cache_dir)
    return reviews[reviews["split"] == "holdout"].reset_index(drop=True)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    server = start_server(root)
    try:
        yield server
    finally:
        stop_server(root)


@pytest.fixture()
def tracking_uri(mlflow_server, monkeypatch):
    """Point this test (and its subprocesses) at the live server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    mlflow.set_tracking_uri(mlflow_server.url)
    yield mlflow_server.url
    mlflow.set_tracking_uri(None)


@pytest.fixture()
def s3_api(tmp_path):
    """A local S3 API (moto's server) for this test."""
    from tests.services.s3 import running_s3

    with running_s3(tmp_path) as api:
        yield api


@pytest.fixture()
def unique():
    """A fresh suffix so tests never share experiments or registered models."""
    return uuid.uuid4().hex[:8]


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
