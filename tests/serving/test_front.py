"""The EaaS front (``dlexplain eaas front``, a real uvicorn process): one address, switched by the
deployment state alone; 503 before any deploy, 502 for an upstream that is gone, 413 past the
body limit."""

from __future__ import annotations

import os
import sys

import pytest
import requests

from dlexplain.base.processes import free_port
from dlexplain.serving.deployment import Deployment, DeploymentState
from dlexplain.serving.front import HEALTH_PATH, RUN_ID_HEADER
from tests.services.processes import background
from tests.serving.json_server import json_server


def _upstream(name: str):
    """A server that answers every POST with its name and the body it got."""
    return json_server(lambda path, body: (200, {"server": name, "path": path, "got": body}))


def _deployment(run_id: str, url: str) -> Deployment:
    return Deployment(run_id=run_id, model_uri=f"runs:/{run_id}/explainer", version="1", url=url,
                      backend="docker", handle=run_id)


@pytest.fixture
def front(tmp_path):
    state = DeploymentState(tmp_path / "eaas" / "deployment.json")
    url = f"http://127.0.0.1:{free_port()}"

    def ready() -> bool:
        try:
            return requests.get(f"{url}{HEALTH_PATH}", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    env = {**os.environ, "DLEXPLAIN_EAAS_STATE_PATH": str(state.path),
           "DLEXPLAIN_SERVE_MAX_TEXTS": "2", "DLEXPLAIN_SERVE_MAX_CHARS": "100"}
    with background([sys.executable, "-m", "dlexplain.cli", "eaas", "front", "--host",
                     "127.0.0.1", "--port", url.rsplit(":", 1)[1]], tmp_path / "front.log",
                    env, ready, timeout=60):
        yield url, state


def test_one_address_switched_by_the_state(front):
    url, state = front
    body = {"dataframe_split": {"columns": ["text"], "data": [["fine"]]}}
    refused = requests.post(f"{url}/invocations", json=body, timeout=10)
    assert refused.status_code == 503 and "no explainer is deployed" in refused.json()["message"]
    blue, green = _upstream("blue"), _upstream("green")
    try:
        for name, server in (("blue", blue), ("green", green)):
            state.record(_deployment(f"run-{name}", f"http://127.0.0.1:{server.server_port}"),
                         "deploy")
            answer = requests.post(f"{url}/invocations?x=1", json=body, timeout=10)
            assert answer.status_code == 200
            assert answer.json() == {"server": name, "path": "/invocations?x=1", "got": body}
            assert answer.headers[RUN_ID_HEADER] == f"run-{name}"
            assert requests.get(f"{url}{HEALTH_PATH}", timeout=10).json() == {
                "status": "ok", "active": f"run-{name}"}
    finally:
        for server in (blue, green):
            server.shutdown()
            server.server_close()
    # the active server gone: a clear 502, not a stack trace
    gone = requests.post(f"{url}/invocations", json=body, timeout=30)
    assert gone.status_code == 502 and gone.json()["error_code"] == "UPSTREAM_UNREACHABLE"
    assert gone.headers[RUN_ID_HEADER] == "run-green"
    too_big = requests.post(f"{url}/invocations", data=b"x" * (200 << 10), timeout=30,
                            headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
