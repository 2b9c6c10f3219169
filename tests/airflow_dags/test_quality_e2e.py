"""Faithfulness, global importance, drift and trend through the whole DAG (``dag.test()``).

Three nights explained by a tiny BERT: night 1 and 2 draw their texts from one vocabulary, night
3 from another. Night 1 has no baseline; night 2 is stable against night 1; night 3, whose top
tokens the baseline never saw, drifts (below the threshold and below chance): ``check_drift``
emits an event of the ``dlexplain_drift_detected`` Asset and its report renders in a real
browser from the MLflow artifact URL. The ``drift_alert`` DAG runs on that event and a local SMTP
server receives the e-mail with the report's URL. The trend run holds one point per night.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from email import message_from_bytes

import numpy as np
import pandas as pd
import pendulum
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from dlexplain.defaults.data import partition_path
from dlexplain.explain.table import read_explanations
from dlexplain.tracking.quality_runs import QUALITY_PREFIX, night_step, trend_run
from tests.checks import assert_additive, run_failures
from tests.tiny_model import WORDS

pytestmark = pytest.mark.slow
NIGHTS = [date(2026, 2, d) for d in (1, 2, 3)]
SHARED = ["the", "a", "and"]
MOVIES = SHARED + WORDS[10:26]
OTHER = SHARED + WORDS[30:46]


def _texts(words: list[str], seed: int, count: int = 24) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=8)) for _ in range(count)]


@pytest.fixture()
def own_tracking_uri(tmp_path, monkeypatch):
    """A tracking server of this test alone: no other test's nights in its baseline or trend."""
    import mlflow

    from dlexplain.tracking.server import start_server, stop_server

    server = start_server(tmp_path / "mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    try:
        yield server.url
    finally:
        mlflow.set_tracking_uri(None)
        stop_server(tmp_path / "mlflow")


@pytest.fixture()
def partitions(dlexplain_home):
    for i, (day, words) in enumerate(zip(NIGHTS, [MOVIES, MOVIES, OTHER])):
        path = partition_path(dlexplain_home / "data", day)
        path.parent.mkdir(parents=True)
        texts = _texts(words, seed=i)
        pd.DataFrame({"id": [f"{day}-{j:02d}" for j in range(len(texts))],
                      "text": texts}).to_parquet(path, index=False)


def _drift_events() -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session(scoped=False) as session:
        query = (select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                 .where(AssetModel.name == "dlexplain_drift_detected"))
        events = [event for event in session.scalars(query)
                  if event.extra.get("night") in {str(day) for day in NIGHTS}]
        session.expunge_all()
        return events


@pytest.fixture()
def smtp_server(monkeypatch):
    """A local SMTP server (aiosmtpd), the Airflow connection drift_alert sends through, and the
    messages it received."""
    from aiosmtpd.controller import Controller

    from dlexplain.base.processes import free_port

    received: list = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            received.append(envelope)
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_DLEXPLAIN_DRIFT_ALERT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
        "extra": {"from_email": "dlexplain@example.org", "disable_tls": True,
                  "disable_ssl": True}}))
    monkeypatch.setenv("DLEXPLAIN_ALERT_TO", "oncall@example.org")
    try:
        yield received
    finally:
        controller.stop()


def _alert_on(events: list, monkeypatch, day: int = 4):
    """``drift_alert`` run by ``dag.test()`` on the asset ``events``: the run consumes them, as
    the scheduler's asset-triggered runs do (``dag.test()`` creates a manual run)."""
    import airflow.models.dagrun as dagrun_module
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    create = getattr(dagrun_module.get_or_create_dagrun, "original", dagrun_module.get_or_create_dagrun)

    def consuming(**kwargs):
        run = create(**kwargs)
        run.consumed_asset_events.extend(kwargs["session"].merge(e) for e in events)
        kwargs["session"].commit()
        return run

    consuming.original = create
    monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", consuming)
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["drift_alert"]
    return dag.test(logical_date=pendulum.datetime(2026, 2, day, tz="UTC"))


def _history(run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in MlflowClient().get_metric_history(run_id, key)}


def _browser(url: str, screenshot) -> str:
    """The DOM headless Chromium renders for ``url`` (scripts given 20 s of virtual time), and
    a screenshot of the page."""
    flags = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1400,1600", "--virtual-time-budget=20000"]
    subprocess.run([*flags, f"--screenshot={screenshot}", url], check=True, timeout=120,
                   capture_output=True)
    return subprocess.run([*flags, "--dump-dom", url], check=True, timeout=120,
                          capture_output=True, text=True).stdout


def _pixels_of(screenshot, color: str) -> int:
    """How many pixels of the screenshot have ``color`` (``#rrggbb``)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)[..., :3]
    rgb = np.array([int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int(np.all(np.abs(pixels - rgb) < 0.03, axis=-1).sum())


def test_faithfulness_importance_drift_trend_and_alert(airflow_db, own_tracking_uri,
                                                        dlexplain_home, partitions, tiny_model_dir,
                                                        smtp_server, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    conf = {"source_model": str(tiny_model_dir), "rows_per_batch": 24, "max_evals": 100,
            "drift_baseline_nights": 7, "drift_min_texts": 16}  # the nights have 24 texts
    checks, night_runs = [], []
    for day in NIGHTS:
        run = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz="UTC"),
                       run_conf=conf)
        assert run.state == "success", run_failures(run)
        checks.append(run.get_task_instance("check_drift").xcom_pull(task_ids="check_drift"))
        night_runs.append(run.get_task_instance("open_explanation_run").xcom_pull(
            task_ids="open_explanation_run")[0]["run_id"])

        table = pq.read_table(dlexplain_home / "explanations" / "reviews" / f"ds={day}")
        rows = read_explanations(table)
        assert len(rows) == 24 and all(r.ok for r in rows)
        assert_additive(rows)  # recomputed from the stored values, not the stored field
        assert sum(r.faithfulness is not None for r in rows) >= 20, "on by default"

    # night 1: nothing to compare with; night 2: same vocabulary; night 3: another one
    assert [c["status"] for c in checks] == ["no_baseline", "stable", "drift"]
    assert checks[2]["score"] < 0.9 and checks[2]["p_value"] < 0.01 < checks[1]["p_value"]
    assert checks[2]["chance_low"] > checks[2]["score"]
    assert checks[1]["baseline_nights"] == [str(NIGHTS[0])]
    assert checks[2]["baseline_nights"] == [str(NIGHTS[0]), str(NIGHTS[1])]
    (event,) = _drift_events()  # the stable night emitted nothing
    assert event.extra["night"] == str(NIGHTS[2]) and event.extra["score"] == checks[2]["score"]
    assert event.extra["report_url"] == checks[2]["report_url"]
    assert event.extra["p_value"] == checks[2]["p_value"]

    # drift_alert on that event: the e-mail reaches the SMTP server, with the report's URL
    alert = _alert_on([event], monkeypatch)
    assert alert.state == "success", run_failures(alert)
    (mail,) = smtp_server
    assert mail.rcpt_tos == ["oncall@example.org"]
    message = message_from_bytes(mail.original_content)
    assert str(NIGHTS[2]) in message["Subject"]
    body = "".join(part.get_payload(decode=True).decode() for part in message.walk()
                   if part.get_content_type() == "text/html")
    assert checks[2]["report_url"] in body and f"{checks[2]['p_value']:.3f}" in body
    # a connection that cannot send e-mail fails the task at once, nothing sent
    monkeypatch.setenv("AIRFLOW_CONN_DLEXPLAIN_DRIFT_ALERT", "http://example.org")
    wrong = _alert_on([event], monkeypatch, day=6)
    assert wrong.state == "failed" and wrong.get_task_instance("alert").try_number == 1
    # without the connection: the run succeeds and nobody is mailed (its log says so)
    monkeypatch.delenv("AIRFLOW_CONN_DLEXPLAIN_DRIFT_ALERT")
    assert _alert_on([event], monkeypatch, day=5).state == "success" and len(smtp_server) == 1

    client = MlflowClient()
    for run_id in night_runs:
        files = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run_id, QUALITY_PREFIX)}
        assert {"importance.parquet", "importance.json", "signed_importance_NEGATIVE.png",
                "signed_importance_POSITIVE.png"} <= files
    assert "drift.html" in {a.path.rsplit("/", 1)[-1]
                            for a in client.list_artifacts(night_runs[2], QUALITY_PREFIX)}

    # the trend: one point per night at its step, the nights nested under it
    trend = trend_run("explain_reviews")
    steps = [night_step(str(day))[0] for day in NIGHTS]
    assert sorted(_history(trend, "rows_total")) == steps
    assert sorted(_history(trend, "comprehensiveness")) == steps
    assert sorted(_history(trend, "drift_ndcg")) == steps[1:]
    assert _history(trend, "drift_ndcg")[steps[2]] == pytest.approx(checks[2]["score"])
    assert all(client.get_run(r).data.tags["mlflow.parentRunId"] == trend for r in night_runs)

    # the report, opened in a real browser on its MLflow UI page: the UI shows the HTML artifact
    # in a sandboxed frame, and the report's plots (tonight red, the baseline blue) are drawn
    url = checks[2]["report_url"]
    assert url.startswith(own_tracking_uri) and url.endswith("/artifacts/quality/drift.html")
    screenshot = tmp_path / "drift.png"
    dom = _browser(url, screenshot)
    assert "mlflow-html-iframe" in dom and "quality/drift.html" in dom
    assert _pixels_of(screenshot, "#ff0051") > 200 and _pixels_of(screenshot, "#008bfb") > 200
    assert _pixels_of(screenshot, "#b00020") > 20, "the red DRIFT status line"
