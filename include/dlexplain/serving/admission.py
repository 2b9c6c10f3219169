"""How many requests an ASGI app admits at once.

A request holds its slot until its answer's last body message is handed to the server, not
until the app's call returns: the server may read the client's next request on the same
connection as soon as the answer is sent, before the app's ``finally`` blocks run, and a client
that waits for each answer (one of ``limit`` clients) must never be refused for the request it
has just been answered. A 504 keeps its slot until the app returns: MLflow answers it while the
request's worker thread still runs (until its next deadline check).
"""

from __future__ import annotations


class Slot:
    """One admitted request's place; :meth:`release` is idempotent."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.taken -= 1

    def releasing(self, send):
        """``send``, freeing the slot just before the answer's last body message goes out
        (a 504's, when the app returns)."""

        status = 0

        async def wrapped(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                if status != 504:  # its work may still run: freed when the app returns
                    self.release()
            await send(message)

        return wrapped


class Slots:
    """At most ``limit`` requests at once (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> Slot | None:
        """A slot, or None when ``limit`` requests hold one."""
        if self.taken >= self.limit:
            return None
        self.taken += 1
        return Slot(self)
