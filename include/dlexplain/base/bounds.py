"""A bound on the work of the current request: a deadline and a cancel flag.

The served explainer runs each request in a worker thread that nothing can stop from outside:
when the client gives up (or the server's own timeout answers 504), the work would go on and
hold the worker. :func:`bounded` sets a :class:`Bound` for the current context (request threads
inherit it: ``asyncio.to_thread`` copies the context), and long loops call :func:`check_bound`
between their steps, which raises :class:`WorkAbandoned` once the bound is spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from dlexplain.errors import DlexplainError


class WorkAbandoned(DlexplainError):
    """The request this work was for has gone: past its deadline, or its client left."""


@dataclass
class Bound:
    """Until when the work may run (``time.monotonic()``), and whether it was cancelled."""

    deadline: float
    cancelled: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise :class:`WorkAbandoned` when cancelled or past the deadline."""
        if self.cancelled.is_set():
            raise WorkAbandoned("the client closed the connection: work stopped")
        if time.monotonic() > self.deadline:
            raise WorkAbandoned("the request's deadline passed: work stopped")


_CURRENT: ContextVar[Bound | None] = ContextVar("dlexplain_bound", default=None)


@contextmanager
def bounded(seconds: float) -> Iterator[Bound]:
    """Bound the work of this context (and of threads started from it) to ``seconds``."""
    bound = Bound(time.monotonic() + seconds)
    token = _CURRENT.set(bound)
    try:
        yield bound
    finally:
        _CURRENT.reset(token)


def check_bound() -> None:
    """Raise :class:`WorkAbandoned` when the current context's bound is spent (no-op unbound)."""
    bound = _CURRENT.get()
    if bound is not None:
        bound.check()
