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
