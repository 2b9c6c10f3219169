"""EaaS parts that need no scoring server: request limits, the state file, settings, the CLI
status, the probe's patience (against a scripted HTTP server)."""

from __future__ import annotations

import contextlib
import json
import time

import numpy as np
import pytest

from dlexplain.cli import main
from dlexplain.config import Settings
from dlexplain.errors import ConfigError
from dlexplain.explain.row import TextExplanation
from dlexplain.model.request_limits import RequestLimits
from dlexplain.serving.checks import ServerNotReady, ServingError, probe
from dlexplain.serving.deployment import HISTORY_LENGTH, Deployment, DeploymentState
from tests.serving.json_server import json_server


@pytest.mark.parametrize("texts, problem", [
    ([], "holds no texts"),
    (["ok"] * 4, "holds 4 texts; at most 3"),
    (["ok", 7], "row 1: the text is a int"),
    (["ok", b"raw"], "row 1: the text is a bytes"),
    (["ok", "x" * 11], "row 1: the text has 11 characters; at most 10"),
])
def test_requests_over_the_limits_say_why(texts, problem):
    assert problem in RequestLimits(max_texts=3, max_chars=10).problem(texts)


def test_requests_within_the_limits_pass():
    assert RequestLimits(max_texts=3, max_chars=10).problem(["ok", None, "x" * 10]) is None


def _deployment(run_id: str) -> Deployment:
    return Deployment(run_id=run_id, model_uri=f"models:/m/{run_id}", version=run_id,
                      url="http://127.0.0.1:1", backend="process", handle="1")


def test_state_file_records_switches_and_keeps_a_bounded_history(tmp_path):
    state = DeploymentState(tmp_path / "eaas" / "deployment.json")
    assert state.active() is None and state.history() == []
    deployed = _deployment("a")
    state.record(deployed, "deploy")
    state.record(deployed, "rollback", failed_run_id="b", reason="broken")
    assert state.active() == deployed
    assert state.history()[-1] == {**state.history()[-1], "event": "rollback", "run_id": "a",
                                   "failed_run_id": "b"}
    for n in range(HISTORY_LENGTH + 5):
        state.record(_deployment(str(n)), "deploy")
    assert len(state.history()) == HISTORY_LENGTH
    assert DeploymentState(state.path).active().run_id == str(HISTORY_LENGTH + 4)
    assert [p.name for p in state.path.parent.iterdir()] == ["deployment.json"]  # no temp files
    state.record(None, "undeploy")
    assert state.active() is None


def test_eaas_settings():
    settings = Settings.from_env({"DLEXPLAIN_HOME": "/srv/x", "DLEXPLAIN_EAAS_BACKEND": "docker",
                                  "DLEXPLAIN_SERVE_MAX_TEXTS": "8"})
    assert settings.eaas.backend == "docker" and settings.serve.max_texts == 8
    assert str(settings.eaas.state_path) == "/srv/x/eaas/deployment.json"
    assert settings.serve.max_chars == 20000 and settings.eaas.health_timeout == 300
    with pytest.raises(ConfigError, match="DLEXPLAIN_EAAS_BACKEND='k8s' is invalid"):
        Settings.from_env({"DLEXPLAIN_EAAS_BACKEND": "k8s"})


def test_cli_status_prints_the_state(tmp_path, monkeypatch, capsys):
    path = tmp_path / "deployment.json"
    monkeypatch.setenv("DLEXPLAIN_EAAS_STATE_PATH", str(path))
    assert main(["eaas", "status"]) == 0
    assert json.loads(capsys.readouterr().out) == {"active": None, "history": []}
    DeploymentState(path).record(_deployment("a"), "deploy")
    assert main(["eaas", "status"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["active"]["run_id"] == "a" and printed["history"][0]["event"] == "deploy"


def test_sensor_waits_while_the_classifier_is_not_registered(tracking_uri, tmp_path, unique):
    """A fresh stack: no classifier behind the alias yet, so nothing to serve (no task error)."""
    import sys

    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "plugins"))
    from eaas_sensors import NewExplainerSensor

    sensor = NewExplainerSensor(task_id="wait", classifier=f"models:/none-{unique}@champion",
                                state_path=tmp_path / "state.json")
    assert sensor.poke({}) is False


def test_a_reused_pid_is_never_signalled(tmp_path):
    """The state names a server that is gone; its PID now runs an unrelated ``sleep``: undeploy
    and a status check leave that process alone."""
    import subprocess

    from dlexplain.base.processes import ProcessHandle
    from dlexplain.serving.process import ProcessBackend

    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        now = ProcessHandle.of(sleeper.pid)
        assert now.alive() and str(now) == f"{sleeper.pid}:{now.start}"
        stale = ProcessHandle(sleeper.pid, str(int(now.start) - 1))  # started at another time
        backend = ProcessBackend(tmp_path / "eaas" / "deployment.json",
                                 tracking_uri="http://127.0.0.1:1")
        gone = Deployment(run_id="old", model_uri="models:/m/1", version="1",
                          url="http://127.0.0.1:1", backend="process", handle=str(stale))
        backend.state.record(gone, "deploy")
        assert "is gone" in backend.problem(gone)
        assert backend.undeploy() == gone and backend.state.active() is None
        assert ProcessHandle.parse(str(stale)) == stale and not stale.terminate()
        legacy = ProcessHandle.parse(str(sleeper.pid))  # a PID alone cannot be verified
        assert not legacy.alive() and not legacy.terminate()
        time.sleep(0.5)
        assert sleeper.poll() is None, "the unrelated process was signalled"
        assert now.terminate() and sleeper.wait(timeout=15) is not None
        assert not now.alive()
    finally:
        sleeper.kill()
        sleeper.wait()


@contextlib.contextmanager
def _scripted_server(answers: list[tuple[int, dict]]):
    """A server whose n-th POST gets ``answers[n]`` (the last one repeats); its URL and the
    statuses it answered."""
    seen = []

    def answer(path, body):
        status, reply = answers[min(len(seen), len(answers) - 1)]
        seen.append(status)
        return status, reply

    server = json_server(answer)
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _served_row(run_id: str) -> dict:
    row = TextExplanation.explained(["a", "b"], np.array([[0.1, -0.1], [0.2, -0.2]]),
                                    np.array([0.2, 0.8]), np.array([0.5, 0.5]),
                                    ["NEGATIVE", "POSITIVE"]).to_dict()
    return {**row, "explainer_run_id": run_id}


def test_the_probe_waits_for_a_warming_server_and_fails_fast_on_a_broken_one():
    timed_out = (504, {"error": "Request processing time exceeded limit"})
    with _scripted_server([timed_out, timed_out, (200, {"predictions": [_served_row("r1")]})]) \
            as (url, seen):
        started = time.monotonic()
        assert probe(url, "r1", patience=30)["explainer_run_id"] == "r1"
        assert seen == [504, 504, 200] and 10 <= time.monotonic() - started < 20
    with _scripted_server([timed_out]) as (url, seen):
        with pytest.raises(ServerNotReady, match="answered 504"):
            probe(url, "r1", patience=6)
        assert seen == [504, 504], "asked again once within its patience, then gave up"
    with _scripted_server([(400, {"error": "bad input"}), timed_out]) as (url, seen):
        with pytest.raises(ServingError, match="answered 400"):
            probe(url, "r1", patience=30)
        assert seen == [400], "a broken server is not asked again"
