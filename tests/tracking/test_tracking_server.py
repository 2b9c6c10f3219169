"""The tracking-server helper: starts, is reused, stops by PID."""

from __future__ import annotations

import os

import requests

from dlexplain.tracking.server import running_server, start_server, stop_server


def test_start_reuse_stop(tmp_path):
    server = start_server(tmp_path / "srv")
    try:
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        assert start_server(tmp_path / "srv") == server, "a running server is reused"
        assert running_server(tmp_path / "srv") == server
    finally:
        assert stop_server(tmp_path / "srv")
    assert running_server(tmp_path / "srv") is None
    try:
        os.kill(server.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the server process is gone"
    assert not stop_server(tmp_path / "srv")


def test_a_stale_state_file_never_stops_another_process(tmp_path):
    """After a restart the recorded PID may run something else: it is not taken for the server."""
    import json
    import subprocess

    from dlexplain.tracking.server import STATE_FILE

    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        state = tmp_path / "srv" / STATE_FILE
        state.parent.mkdir()
        state.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": sleeper.pid,
                                     "root": str(state.parent), "started": "1"}))
        assert running_server(state.parent) is None
        assert stop_server(state.parent) and not state.exists()
        assert sleeper.poll() is None, "the unrelated process was signalled"
    finally:
        sleeper.kill()
        sleeper.wait()
