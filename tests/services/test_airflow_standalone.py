"""A real scheduler: `airflow standalone` on PostgreSQL. Backfill over 2 days; trigger through REST.

PostgreSQL, not SQLite: on SQLite the scheduler crashed twice in CI (a FOREIGN KEY failure while
creating a backfill run's task instances as the dag-processor wrote a new DAG version, then
``ObjectDeletedError``), and `airflow standalone` does not restart it (Airflow 3.3.2).

What is under test is the scheduling (backfills, params, Assets), so every run explains with the
tiny DistilBERT (``DLEXPLAIN_SOURCE_MODEL``) on a one-core Spark: with the default model, today's
scheduled run and the backfill's first night each spent over 10 minutes in one Spark job on a
loaded 2-core machine (loading the model in two Python workers each), and the test timed out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
from mlflow import MlflowClient

from dlexplain.base.processes import free_port
from dlexplain.defaults import build_default_data
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.quality_runs import night_step, trend_run
from dlexplain.tracking.runs import EXPLANATIONS_EXPERIMENT, TAG_DAG_ID, experiment_id
from tests.conftest import REPO
from tests.services.postgres import postgres_cluster
from tests.services.processes import background, wait_for

pytestmark = pytest.mark.slow
DAG_ID = "explain_reviews"
TRAINING_DAG_ID = "train_fast_explainer"
#: DLEXPLAIN_FAST_MIN_NEW_TEXTS of the standalone Airflow: its training runs gather, never train
MIN_NEW_TEXTS = 1000
#: two nights show the order and the drift against the night before; each costs ~5 min here
DAYS = [date(2026, 1, d) for d in (1, 2)]
CONF = {"max_evals": 30, "rows_per_batch": 4}
#: the user's own data: JSON lines, other column names, a day no backfill touches
TWEETS_DAY = date(2026, 1, 5)
#: the DAG's schedule here: the first three days of January. Once unpaused, the scheduler starts
#: the latest past point (``run_immediately``, catchup off): 2026-01-03, a day with no partition,
#: which fails at once. With ``@daily`` that was today's whole night, beside the backfill's first
SCHEDULE, SCHEDULED_DAY = "0 0 1-3 1 *", date(2026, 1, 3)
TWEETS = pd.DataFrame({"tweet_id": [5, 3, 1, 4, 2],
                       "tweet": ["great film", "so boring", "ok I guess", "loved it", "meh"],
                       "lang": "en"})


@pytest.fixture(scope="module")
def airflow_postgres():
    with postgres_cluster() as cluster:
        yield cluster.create_database("airflow")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, mlflow_server, settings, tiny_family_dirs, airflow_postgres):
    root = tmp_path_factory.mktemp("airflow-standalone")
    home = root / "dlexplain"
    build_default_data(settings.paths.cache_dir, home / "data", DAYS[0], DAYS[-1], rows_per_day=3)
    # JSON lines under a suffix that names no format: only the input_format param reads it
    tweets = home / "data" / "tweets" / f"ds={TWEETS_DAY}" / "tweets.export"
    tweets.parent.mkdir(parents=True)
    tweets.write_text(TWEETS.to_json(orient="records", lines=True))
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_postgres,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        # a DAG file takes 7-13 s to parse on an idle 2-core machine; with Spark on both cores
        # the default 30/50 s bounds were exceeded once and the DAG vanished (404) mid-test
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW_CONN_SPARK_DEFAULT": "spark://local%5B1%5D",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "DLEXPLAIN_HOME": str(home),
        "DLEXPLAIN_DATA_DIR": str(home / "data"),
        "DLEXPLAIN_FAST_MIN_NEW_TEXTS": str(MIN_NEW_TEXTS),
        "DLEXPLAIN_SCHEDULE": SCHEDULE,
        "DLEXPLAIN_SOURCE_MODEL": str(tiny_family_dirs["distilbert"]),
    }
    api = f"http://127.0.0.1:{port}"
    state = {}

    def ready() -> bool:
        try:
            passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
            if not passwords.is_file():
                return False
            password = json.loads(passwords.read_text())["admin"]
            reply = requests.post(f"{api}/auth/token", json={"username": "admin",
                                                              "password": password}, timeout=5)
            if reply.status_code not in (200, 201):
                return False
            state["headers"] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
            # every DAG file parsed once: a backfill created while the dag-processor still
            # wrote serialized DAGs crashed the scheduler on SQLite (FOREIGN KEY failure
            # while creating task instances; seen once, Airflow 3.3.2)
            dags = requests.get(f"{api}/api/v2/dags", headers=state["headers"], timeout=5)
            found = {d["dag_id"] for d in dags.json()["dags"]} if dags.status_code == 200 else set()
            return found >= {DAG_ID, "eaas_redeploy"}
        except requests.RequestException:
            return False

    with background([sys.executable, "-m", "airflow", "standalone"], root / "standalone.log", env,
                    ready, timeout=300):
        yield {"api": api, "env": env, "home": home, "headers": state["headers"]}


def _airflow(standalone, *args) -> str:
    """Run an Airflow CLI command against the standalone's database; its output."""
    done = subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True,
                          text=True, env=standalone["env"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _get(standalone, path: str, **params) -> dict:
    """GET from the REST API; a read that times out or a refused connection is tried again.

    The API server (one worker) shares these 2 cores with the scheduler and the Spark
    jobs it starts: a read has once waited over 10 s while a backfill ran. A GET is safe to repeat.
    """
    for attempt in range(4):
        try:
            reply = requests.get(f"{standalone['api']}{path}", params=params,
                                 headers=standalone["headers"], timeout=30)
            break
        except (requests.Timeout, requests.ConnectionError):
            if attempt == 3:
                raise
            time.sleep(5 * (attempt + 1))
    reply.raise_for_status()
    return reply.json()


def _backfills(standalone) -> list[dict]:
    return _get(standalone, "/api/v2/backfills", dag_id=DAG_ID)["backfills"]


def _create_backfill(standalone, days: list[date], *options: str) -> None:
    """``airflow backfill create`` over ``days``, one night at a time in date order."""
    assert all(b["completed_at"] for b in _backfills(standalone)), "no backfill is running"
    # a backfill's limit of active runs is independent of the DAG's
    _airflow(standalone, "backfill", "create", "--dag-id", DAG_ID, "--from-date", str(days[0]),
             "--to-date", str(days[-1]), "--dag-run-conf", json.dumps(CONF),
             "--max-active-runs", "1", *options)


def _runs(standalone) -> list[dict]:
    return _get(standalone, f"/api/v2/dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]


def _backfills_done(standalone, backfills: int, days: list[date]) -> bool:
    """``backfills`` backfills exist and are completed, no backfill run failed, and the runs of
    ``days`` (the newest backfill's) succeeded after it was created.

    Reprocessing a completed date re-runs (clears) its existing DAG run: no new run is created.
    Airflow may mark the reprocessing backfill completed before it has cleared those runs, so a
    run counts only once it has ended after that backfill's creation.
    """
    found = _backfills(standalone)
    if len(found) < backfills or not all(b["completed_at"] for b in found):
        return False
    newest = max(datetime.fromisoformat(b["created_at"]) for b in found)
    runs = [r for r in _runs(standalone) if r["run_type"] == "backfill"]
    assert len(runs) == len(DAYS) and "failed" not in [r["state"] for r in runs], runs
    newest_runs = [r for r in runs if r["logical_date"][:10] in {str(d) for d in days}]
    return len(newest_runs) == len(days) and all(
        r["state"] == "success" and r["end_date"]
        and datetime.fromisoformat(r["end_date"]) > newest for r in newest_runs)


def _explanation_runs(standalone) -> list:
    runs = MlflowClient(standalone["env"]["MLFLOW_TRACKING_URI"]).search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)],
        filter_string=where({tag(TAG_DAG_ID): DAG_ID}))
    days = {str(d) for d in DAYS}
    return [r for r in runs if r.data.tags.get("dlexplain.logical_date") in days]


def test_backfill_explains_each_day_once(standalone, tracking_uri):
    _airflow(standalone, "dags", "unpause", DAG_ID)  # backfill runs of a paused DAG stay queued
    _create_backfill(standalone, DAYS)
    wait_for(lambda: _backfills_done(standalone, 1, DAYS), 1800, "the backfill")
    # in date order, one at a time: each night ended before the next one started
    nights = sorted((r for r in _runs(standalone) if r["run_type"] == "backfill"),
                    key=lambda r: r["logical_date"])
    for before, after in zip(nights, nights[1:]):
        assert (datetime.fromisoformat(before["end_date"])
                <= datetime.fromisoformat(after["start_date"])), (before, after)
    outputs = sorted((standalone["home"] / "explanations" / "reviews").glob("ds=2026-01-0*"))
    assert [p.name for p in outputs] == [f"ds={d}" for d in DAYS]
    assert [pq.read_table(p).num_rows for p in outputs] == [3] * len(DAYS)
    assert len(_explanation_runs(standalone)) == len(DAYS)
    # the nights of metrics in the trend run, in order: each night's drift against those before
    trend = trend_run(DAG_ID)
    client = MlflowClient(standalone["env"]["MLFLOW_TRACKING_URI"])
    steps = [night_step(str(day))[0] for day in DAYS]
    for key in ("rows_total", "rows_failed_total", "comprehensiveness", "sufficiency"):
        assert set(steps) <= {m.step for m in client.get_metric_history(trend, key)}, key
    drift = {m.step for m in client.get_metric_history(trend, "drift_ndcg")}
    assert set(steps[1:]) <= drift and steps[0] not in drift  # the first night has no baseline
    # the scheduler's own run: a day with no partition fails at prepare, at once, no retry
    (scheduled,) = [r for r in _runs(standalone) if r["run_type"] == "scheduled"]
    assert scheduled["logical_date"][:10] == str(SCHEDULED_DAY) and scheduled["state"] == "failed"
    tasks = _get(standalone, f"/api/v2/dags/{DAG_ID}/dagRuns/{scheduled['dag_run_id']}"
                             "/taskInstances")["task_instances"]
    prepare = {t["task_id"]: t for t in tasks}["prepare"]
    assert (prepare["state"], prepare["try_number"]) == ("failed", 1), prepare

    # backfilling a done night again re-runs it in place
    _create_backfill(standalone, DAYS[-1:], "--reprocess-behavior", "completed")
    wait_for(lambda: _backfills_done(standalone, 2, DAYS[-1:]), 1200, "the second backfill")
    assert len(_explanation_runs(standalone)) == len(DAYS), "each logical date keeps its one run"
    outputs = sorted((standalone["home"] / "explanations" / "reviews").glob("ds=2026-01-0*"))
    assert [p.name for p in outputs] == [f"ds={d}" for d in DAYS]
    assert [pq.read_table(p).num_rows for p in outputs] == [3] * len(DAYS)


def _run_state(standalone, run_id: str) -> str:
    return _get(standalone, f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"]


def test_trigger_from_the_api_with_params(standalone, tiny_family_dirs, tracking_uri):
    """Every param of the trigger form changes the outcome as documented."""
    from dlexplain.explain.table import read_explanations

    _airflow(standalone, "dags", "unpause", DAG_ID)
    _airflow(standalone, "dags", "unpause", TRAINING_DAG_ID)  # runs on the nights' Asset events
    url = f"{standalone['api']}/api/v2/dags/{DAG_ID}/dagRuns"
    conf = {"partition_date": str(TWEETS_DAY), "row_limit": 3, "rows_per_batch": 2,
            "max_evals": 40, "class_to_plot": "neutral",
            "dataset_path_template": "{data_dir}/tweets/ds={ds}/tweets.export",
            "input_format": "json",
            "output_path_template": "{home}/explanations/tweets/ds={ds}",
            "text_column": "tweet", "id_column": "tweet_id",
            "source_model": str(tiny_family_dirs["distilbert"]),
            "explainer_name": "tweets-explainer"}
    reply = requests.post(url, headers=standalone["headers"], timeout=30,
                          json={"logical_date": None, "conf": conf})
    assert reply.status_code == 200, reply.text
    assert reply.json()["conf"] == conf
    run_id = reply.json()["dag_run_id"]

    bad = requests.post(url, headers=standalone["headers"], timeout=30,
                        json={"logical_date": None, "conf": {"max_evals": -1}})
    assert bad.status_code == 400, bad.text
    assert "max_evals" in bad.text and "minimum" in bad.text.lower()
    assert "Traceback" not in bad.text

    wait_for(lambda: _run_state(standalone, run_id) in ("success", "failed"), 900,
             "the triggered run")
    assert _run_state(standalone, run_id) == "success"
    # partition_date and both path templates: that day's JSON lines in, that folder out
    table = pq.read_table(standalone["home"] / "explanations" / "tweets" / f"ds={TWEETS_DAY}")
    # row_limit: 3 of 5 rows; id_column: sorted by it; every input column kept
    assert table.num_rows == 3
    assert table.column_names == ["tweet_id", "tweet", "lang", "explanation"]
    ids = table.column("tweet_id").to_pylist()
    assert ids == sorted(ids)
    results = read_explanations(table)
    # text_column: the tweets were explained; source_model: the 3-label classifier
    assert [("".join(r.tokens)) for r in results] == table.column("tweet").to_pylist()
    assert all(r.output_names == ("negative", "neutral", "positive") for r in results)

    client = MlflowClient(standalone["env"]["MLFLOW_TRACKING_URI"])
    # explainer_name and max_evals: the explainer is registered under the name, with 40 evals
    (version,) = client.search_model_versions(where({"name": "tweets-explainer"}))
    assert client.get_run(version.run_id).data.params["max_evals"] == "40"
    (explanations,) = [r for r in client.search_runs(
        [experiment_id(EXPLANATIONS_EXPERIMENT)], filter_string=where({tag(TAG_DAG_ID): DAG_ID}))
        if r.data.tags.get("dlexplain.logical_date") == str(TWEETS_DAY)]
    assert explanations.data.tags["dlexplain.explainer_run_id"] == version.run_id
    # rows_per_batch: 3 rows in batches of 2; class_to_plot: that class's plot only (the default,
    # a plot per predicted class, is shown by tests/airflow_dags/test_families_e2e.py)
    folder = f"explanations/ds={TWEETS_DAY}"
    batches = [a.path for a in client.list_artifacts(explanations.info.run_id, folder)]
    assert [b.rsplit("/", 1)[-1] for b in batches] == ["batch-0000", "batch-0001"]
    plots = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(explanations.info.run_id,
                                                                      batches[0])}
    assert {p for p in plots if p.startswith("bar_")} == {"bar_neutral.png"}

    # the night's Asset event started train_fast_explainer. Nights that ended while a training
    # run was queued fold into one run (the backfill's): gather looks at every
    # explainer its events name, and with too few new texts (MIN_NEW_TEXTS, set through
    # DLEXPLAIN_FAST_MIN_NEW_TEXTS) trains none of them
    wait_for(lambda: version.run_id in _trained_from(standalone), 600,
             "the training run started by the tweets night's Asset event")
    for run_id, named in _ended_training_runs(standalone).items():
        tasks = {t["task_id"]: t for t in _get(
            standalone, f"/api/v2/dags/{TRAINING_DAG_ID}/dagRuns/{run_id}/taskInstances"
        )["task_instances"]}
        assert {k: t["state"] for k, t in tasks.items()} == {"gather": "success",
                                                             "train": "skipped"}, run_id
        log = json.dumps(_get(standalone, f"/api/v2/dags/{TRAINING_DAG_ID}/dagRuns/{run_id}"
                                          f"/taskInstances/gather/logs/"
                                          f"{tasks['gather']['try_number']}"))
        for exact_run_id in named:
            assert f"explainer run {exact_run_id}: " in log, (run_id, exact_run_id)
        assert f"(need {MIN_NEW_TEXTS}): not training" in log


def _ended_training_runs(standalone) -> dict[str, list[str]]:
    """The ended training runs, each with the exact explainer runs of the events it consumed;
    every one was started by the Asset (none is triggered by hand here)."""
    ended = {}
    for run in _get(standalone, f"/api/v2/dags/{TRAINING_DAG_ID}/dagRuns")["dag_runs"]:
        assert run["run_type"] == "asset_triggered", run
        if run["state"] in ("success", "failed"):
            assert run["state"] == "success", run
            events = _get(standalone, f"/api/v2/dags/{TRAINING_DAG_ID}/dagRuns/"
                                      f"{run['dag_run_id']}/upstreamAssetEvents")["asset_events"]
            ended[run["dag_run_id"]] = [e["extra"]["exact_run_id"] for e in events]
    return ended


def _trained_from(standalone) -> set[str]:
    """The exact explainer runs named by the events of the ended training runs."""
    return {name for named in _ended_training_runs(standalone).values() for name in named}
