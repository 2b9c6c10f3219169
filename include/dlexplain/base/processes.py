"""Local processes and ports: free ports, liveness by PID, stopping a process group.

A PID written to a state file may belong to another process after a restart (PIDs are reused).
:class:`ProcessHandle` records the process's start time beside its PID, and is alive (and may be
signalled) only while the process with that PID started at that time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def process_alive(pid: int) -> bool:
    """True while a process ``pid`` exists (zombies included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate_process_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                if not process_alive(pid):
                    return
            time.sleep(0.2)


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), None if none runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in () may hold spaces


@dataclass(frozen=True)
class ProcessHandle:
    """A process by PID and start time; its text form ``"<pid>:<start>"`` goes in state files."""

    pid: int
    start: str | None

    @classmethod
    def of(cls, pid: int) -> ProcessHandle:
        """The process running now as ``pid``."""
        return cls(pid, process_start(pid))

    @classmethod
    def parse(cls, text: str) -> ProcessHandle:
        pid, _, start = str(text).partition(":")
        return cls(int(pid), start or None)

    def __str__(self) -> str:
        return f"{self.pid}:{self.start}" if self.start else str(self.pid)

    def alive(self) -> bool:
        """True while the process that started at ``start`` runs as ``pid`` (a handle without a
        start time cannot be verified: never alive)."""
        return self.start is not None and process_start(self.pid) == self.start

    def terminate(self, grace: float = 10.0) -> bool:
        """Stop the process group if it is still this process; False when another process (or
        none) holds the PID now, which is left alone."""
        if not self.alive():
            if process_alive(self.pid):
                logger.warning(
                    "pid %d is not the process recorded (started %s): left alone",
                    self.pid,
                    self.start,
                )
            return False
        terminate_process_group(self.pid, grace)
        return True
