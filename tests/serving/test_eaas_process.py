"""EaaS with the process backend: deploy, redeploy by the DAG, rollback, and bad requests."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from mlflow import MlflowClient

from dlexplain.base.processes import ProcessHandle, process_alive
from dlexplain.config import Settings
from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE
from dlexplain.explain.units import units
from dlexplain.model.lookup import explainer_for, registered_explainer, set_alias
from dlexplain.serving.redeploy import backend_from_settings, pending_explainer, redeploy
from tests.checks import run_failures
from tests.serving.conftest import break_weights, post_texts, run_eaas_dag, version_of

pytestmark = pytest.mark.slow
TEXTS = ["A wonderful, moving film.", "Dull and far too long.", "The cast is fine."]


def _check_explanations(rows: list[dict], texts: list[str], run_id: str) -> None:
    assert len(rows) == len(texts)
    for row in rows:
        assert row["error"] is None and row["explainer_run_id"] == run_id
        assert row["label"] in row["output_names"] and 0.5 <= row["score"] <= 1.0
        assert len(row["tokens"]) == len(row["values"]) > 2
        assert all(len(v) == len(row["output_names"]) for v in row["values"])
        assert row["additivity_error"] < 1e-4
        assert json.loads(row["explanation_json"])["tokens"] == row["tokens"]


def _task_state(run, task_id: str) -> str:
    return run.get_task_instance(task_id).state


def _explain_with_dag(source, explainer_name: str, home) -> str:
    """One ``explain_reviews`` run over two texts with ``source``; the explainer's run id."""
    import pandas as pd
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from dlexplain.defaults.data import partition_path
    from tests.conftest import REPO

    day = pendulum.datetime(2026, 2, 20, tz="UTC")
    path = partition_path(home / "data", day.date())
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [1, 2], "text": TEXTS[:2]}).to_parquet(path, index=False)
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
    run = dag.test(logical_date=day, run_conf={"source_model": str(source), "max_evals": 20,
                                               "explainer_name": explainer_name})
    assert run.state == "success", run_failures(run)
    return run.get_task_instance("log_explainer").xcom_pull(task_ids="log_explainer",
                                                           key="run_id")


def test_deploy_redeploy_rollback_and_bad_requests(airflow_db, tracking_uri, dlexplain_home,
                                                   mlflow_server, registered, log_version,
                                                   tiny_model_dir, tiny_family_dirs):
    settings = Settings.from_env()
    backend = backend_from_settings(tracking_uri, settings)
    try:
        # explainer A: the DAG deploys it (nothing was deployed) and moves the alias
        run_a = log_version(max_evals=60)
        assert run_eaas_dag(registered, 1, tiny_model_dir).state == "success"
        served_a = backend.state.active()
        assert served_a.run_id == run_a and served_a.backend == "process"
        response = post_texts(served_a.url, TEXTS)
        assert response.status_code == 200
        _check_explanations(response.json()["predictions"], TEXTS, run_a)

        # explainer B (another config): the sensor fires, B serves, A is gone
        run_b = log_version(max_evals=80)
        assert run_b != run_a
        dag_run = run_eaas_dag(registered, 2, tiny_model_dir)
        assert dag_run.state == "success"
        served_b = backend.state.active()
        assert served_b.run_id == run_b and served_b.version == version_of(registered, run_b)
        plain = post_texts(served_b.url, TEXTS).json()["predictions"]
        _check_explanations(plain, TEXTS, run_b)
        assert all(row["faithfulness"] is None for row in plain)
        # faithfulness only on request: the scoring server's params
        measured = post_texts(served_b.url, TEXTS, {"faithfulness": True})
        assert measured.status_code == 200, measured.text
        figures = [row["faithfulness"] for row in measured.json()["predictions"]]
        assert all(set(f) == {"comprehensiveness", "sufficiency", "random_comprehensiveness",
                              "random_sufficiency"} for f in figures if f is not None)
        assert any(f is not None for f in figures)
        _check_granularity(served_b.url)
        model = MlflowClient().get_registered_model(registered)
        assert model.aliases["production"] == served_b.version
        handle = ProcessHandle.parse(served_a.handle)
        assert handle.start and not handle.alive() and not process_alive(handle.pid)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{served_a.url}/ping", timeout=5)
        assert [e["event"] for e in backend.state.history()] == ["deploy", "deploy"]

        # another classifier explained by the DAG, even registered under the same name: it is
        # the newest version now, yet the sensor's target stays pinned to the classifier's
        # weights (the sensor pokes pending_explainer)
        other = _explain_with_dag(tiny_family_dirs["distilbert"], registered, dlexplain_home)
        assert registered_explainer(registered).run_id == other
        assert pending_explainer(str(tiny_model_dir), backend.state, registered) is None
        assert explainer_for(str(tiny_model_dir), registered).run_id == run_b
        assert backend.state.active() == served_b
        assert [e["event"] for e in backend.state.history()] == ["deploy", "deploy"]

        # broken explainer C: redeploy fails clearly, B keeps serving, the alias stays on B
        run_c = log_version(max_evals=100)
        break_weights(registered, version_of(registered, run_c))
        failed = run_eaas_dag(registered, 3, tiny_model_dir)
        assert failed.state == "failed" and _task_state(failed, "redeploy") == "failed"
        assert _task_state(failed, "promote") == "upstream_failed"
        rollback = backend.state.history()[-1]
        assert rollback["event"] == "rollback" and rollback["failed_run_id"] == run_c
        assert f"redeploy of explainer run {run_c} rolled back" in rollback["reason"]
        assert f"explainer run {run_b}) keeps serving" in rollback["reason"]
        assert backend.state.active() == served_b
        _check_explanations(post_texts(served_b.url, TEXTS).json()["predictions"], TEXTS, run_b)
        assert MlflowClient().get_registered_model(registered).aliases["production"] == \
            served_b.version

        # explainer D redeployed twice at once (two tasks, two backends, one state file): the
        # lock makes them take turns, the second finds D served: one server, one deploy event
        run_d = log_version(max_evals=120)
        target = registered_explainer(registered)
        assert target.run_id == run_d
        with ThreadPoolExecutor(2) as pool:
            served = list(pool.map(
                lambda _: redeploy(backend_from_settings(tracking_uri, settings), target, 300),
                range(2)))
        assert served[0] == served[1] == backend.state.active() and served[0].run_id == run_d
        assert [e["event"] for e in backend.state.history()].count("deploy") == 3
        assert not ProcessHandle.parse(served_b.handle).alive()
        _check_explanations(post_texts(served[0].url, TEXTS).json()["predictions"], TEXTS, run_d)

        _check_bad_requests(served[0].url, run_d)

        # the alias still names B: the sensor sees the disagreement; once it names D, nothing
        assert pending_explainer(str(tiny_model_dir), backend.state, registered,
                                 "production").run_id == run_d
        set_alias(registered, "production", served[0].version)
        assert pending_explainer(str(tiny_model_dir), backend.state, registered,
                                 "production") is None
        # kill -9 of the active scoring server: the sensor sees it fail /ping, the DAG replaces it
        os.kill(ProcessHandle.parse(served[0].handle).pid, signal.SIGKILL)
        healed = run_eaas_dag(registered, 4, tiny_model_dir, alias="staging")
        assert healed.state == "success", run_failures(healed)
        active = backend.state.active()
        assert active.run_id == run_d and active.handle != served[0].handle
        # the run's alias param names the alias it moved; production stays where it was
        aliases = MlflowClient().get_registered_model(registered).aliases
        assert aliases["staging"] == active.version == aliases["production"]
        assert ProcessHandle.parse(active.handle).alive()
        _check_explanations(post_texts(active.url, TEXTS).json()["predictions"], TEXTS, run_d)
    finally:
        backend.undeploy()


BAD_REQUESTS = {
    "malformed JSON": ("{\"dataframe_split\": [", "valid JSON"),
    "missing text column": (json.dumps({"dataframe_split": {"columns": ["review"],
                                                            "data": [["fine"]]}}),
                            "missing inputs ['text']"),
    "non-string values": (json.dumps({"dataframe_split": {"columns": ["text"],
                                                          "data": [["fine"], [42]]}}),
                          "row 1: the text is a int, not a string"),
    "10,000 texts": (json.dumps({"dataframe_split": {"columns": ["text"],
                                                     "data": [["fine"]] * 10_000}}),
                     "holds 10000 texts; at most 64"),
    "1 MB text": (json.dumps({"dataframe_split": {"columns": ["text"],
                                                  "data": [["x" * 1_000_000]]}}),
                  "has 1000000 characters; at most 20000"),
    "unknown granularity": (json.dumps({"dataframe_split": {"columns": ["text"],
                                                            "data": [["fine"]]},
                                        "params": {"granularity": "chapter"}}),
                            "granularity 'chapter' is not one of"),
    "fast sentences": (json.dumps({"dataframe_split": {"columns": ["text"], "data": [["ok"]]},
                                   "params": {"method": "fast", "granularity": "sentence"}}),
                       "method 'fast' is not one this explainer answers"),
}
#: a review of two paragraphs and three sentences (pySBD keeps '... "Superb" end!' with its
#: sentence), short enough for the tiny model
REVIEW = 'A wonderful film. Dull middle... "Superb" end!\n\nThe cast is fine.'


def _check_granularity(url: str) -> None:
    """Each unit on request (the scoring server's params): the row's tokens are its units."""
    for unit, count in (("word", 11), ("sentence", 3), ("paragraph", 2)):
        response = post_texts(url, [REVIEW], {"granularity": unit})
        assert response.status_code == 200, response.text
        (row,) = response.json()["predictions"]
        assert row["tokens"] == units(REVIEW, unit) and len(row["tokens"]) == count, row
        assert row["additivity_error"] <= ADDITIVITY_TOLERANCE


def _check_bad_requests(url: str, run_id: str) -> None:
    """Each bad request answers 4xx with a message and no traceback; the server keeps serving."""
    for name, (body, message) in BAD_REQUESTS.items():
        response = requests.post(f"{url}/invocations", data=body, timeout=120,
                                 headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (name, response.status_code)
        answer = response.json()
        assert message in answer["message"], (name, answer["message"][:300])
        assert "stack_trace" not in answer and "Traceback" not in response.text, name
    ok = post_texts(url, ["Still here?"])
    assert ok.status_code == 200 and ok.json()["predictions"][0]["explainer_run_id"] == run_id
