"""A background process with its own process group, polled until ready, stopped by PID."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dlexplain.base.processes import terminate_process_group


@contextmanager
def background(cmd: list[str], log: Path, env: dict, ready: Callable[[], bool],
               timeout: float = 240.0) -> Iterator[subprocess.Popen]:
    """Run ``cmd``; yield once ``ready()`` is true; always terminate its process group."""
    with open(log, "ab") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cmd} not ready after {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield proc
    finally:
        terminate_process_group(proc.pid)


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
