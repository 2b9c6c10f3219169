"""What is deployed: one JSON state file with the active deployment and a short history."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dlexplain.base.records import Record

HISTORY_LENGTH = 50


@dataclass(frozen=True)
class Deployment(Record):
    """A running scoring server of one explainer run."""

    run_id: str
    model_uri: str
    version: str | None
    url: str
    backend: str
    #: process id (process backend) or container id (docker backend)
    handle: str
    text_column: str = "text"
    registered_model: str | None = None
    deployed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class DeploymentState:
    """The state file: ``{"active": Deployment | null, "history": [...]}``, replaced atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        """Hold this state's lock (``<state>.lock``, one holder across processes and threads)
        for a whole redeploy; waits up to ``timeout`` seconds, then raises ``TimeoutError``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f"{self.path.name}.lock"), "a") as lock:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{lock.name} was held for over {timeout:.0f}s by another redeploy"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict:
        if not self.path.is_file():
            return {"active": None, "history": []}
        return json.loads(self.path.read_text())

    def active(self) -> Deployment | None:
        """The deployment that takes traffic, if any."""
        active = self._read()["active"]
        return Deployment(**active) if active else None

    def history(self) -> list[dict]:
        """Past switches, newest last: deployments and rollbacks with their times."""
        return self._read()["history"]

    def record(self, active: Deployment | None, event: str, **details) -> None:
        """Make ``active`` the deployment that takes traffic and append ``event`` to history."""
        state = self._read()
        entry = {"event": event, "at": datetime.now(UTC).isoformat(), **details}
        if active is not None:
            entry.update(run_id=active.run_id, version=active.version, url=active.url)
        state["active"] = asdict(active) if active else None
        state["history"] = (state["history"] + [entry])[-HISTORY_LENGTH:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path.parent, delete=False, prefix=f".{self.path.name}."
        ) as handle:
            json.dump(state, handle, indent=2)
        os.replace(handle.name, self.path)
