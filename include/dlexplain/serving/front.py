"""The EaaS front: one address for clients, whatever server takes traffic behind it.

A redeploy starts the new scoring server beside the old one (a container of its own with the
docker backend), checks it, then records it as active in the deployment state
(:class:`~dlexplain.serving.deployment.DeploymentState`). The front reads that record on every
request and forwards to it, so the switch is the state file's atomic replace: no restart, no
gap, and clients never learn the servers' addresses. Every answer names the run that gave it
(``X-Dlexplain-Run-Id``). While nothing is deployed it answers 503; a server that cannot be
reached, 502; one that does not answer within the bound, 504; more than ``max_in_flight``
requests at once, 503 with ``Retry-After`` (always with a JSON message).
``/front/health`` is the front's own health (and what is active), for the compose healthcheck.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from dlexplain.errors import DlexplainError
from dlexplain.serving.admission import Slots
from dlexplain.serving.deployment import DeploymentState

if TYPE_CHECKING:  # httpx is imported where the front forwards
    import httpx

logger = logging.getLogger(__name__)

HEALTH_PATH = "/front/health"
RUN_ID_HEADER = "x-dlexplain-run-id"
#: Seconds a client refused for too many requests in flight is told to wait (``Retry-After``).
RETRY_AFTER_S = 5
#: request and response headers that belong to one connection, not to the message
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


class Front:
    """ASGI app forwarding every request to the active deployment of ``state``."""

    def __init__(
        self, state: DeploymentState, timeout: float, max_body: int, max_in_flight: int = 16
    ):
        self.state = state
        self.timeout = timeout
        self.max_body = max_body
        #: requests forwarded at once; one more gets 503 with Retry-After at once
        self.slots = Slots(max_in_flight)
        self._client: httpx.AsyncClient | None = None  #: opened by the lifespan's startup

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        active = self.state.active()
        if scope["path"] == HEALTH_PATH:
            await _answer(send, 200, {"status": "ok", "active": active.run_id if active else None})
            return
        if active is None:
            await _answer(
                send, 503, {"error_code": "NOT_DEPLOYED", "message": "no explainer is deployed yet"}
            )
            return
        slot = self.slots.take()
        if slot is None:
            await _answer(
                send,
                503,
                {
                    "error_code": "TEMPORARILY_UNAVAILABLE",
                    "message": f"{self.slots.limit} requests are in flight: retry in "
                    f"{RETRY_AFTER_S} s",
                },
                retry_after=RETRY_AFTER_S,
            )
            return
        send = slot.releasing(send)
        try:
            body = await _body(receive, self.max_body)
            if body is None:
                await _answer(
                    send,
                    413,
                    {
                        "error_code": "REQUEST_TOO_LARGE",
                        "message": f"the body exceeds {self.max_body} bytes",
                    },
                )
                return
            await self._forward(scope, body, active, send)
        finally:
            slot.release()

    async def _forward(self, scope, body: bytes, active, send) -> None:
        import httpx

        if self._client is None:
            raise DlexplainError("the front's HTTP client is not open: run it with its lifespan")
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in HOP_BY_HOP
        ]
        try:
            upstream = await self._client.request(
                scope["method"],
                f"{active.url}{scope['path']}{query}",
                content=body,
                headers=headers,
            )
        except httpx.TimeoutException:
            await _answer(
                send,
                504,
                {
                    "error_code": "UPSTREAM_TIMEOUT",
                    "message": f"the explainer did not answer within {self.timeout:.0f}s",
                },
                active.run_id,
            )
            return
        except httpx.HTTPError as err:
            logger.warning(
                "explainer run %s at %s cannot be reached: %s", active.run_id, active.url, err
            )
            await _answer(
                send,
                502,
                {
                    "error_code": "UPSTREAM_UNREACHABLE",
                    "message": "the explainer cannot be reached; try again shortly",
                },
                active.run_id,
            )
            return
        headers = [
            (k.encode(), v.encode())
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_BY_HOP
        ]
        await _send(send, upstream.status_code, upstream.content, headers, active.run_id)

    async def _lifespan(self, receive, send) -> None:
        import httpx

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client = httpx.AsyncClient(timeout=self.timeout)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                assert self._client is not None  # ASGI sends startup before shutdown
                await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(
    send, status: int, payload: dict, run_id: str | None = None, retry_after: int | None = None
) -> None:
    headers = [(b"content-type", b"application/json")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await _send(send, status, json.dumps(payload).encode(), headers, run_id)


async def _send(send, status: int, body: bytes, headers: list, run_id: str | None) -> None:
    if run_id:
        headers = [*headers, (RUN_ID_HEADER.encode(), run_id.encode())]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_front(
    state: DeploymentState,
    host: str,
    port: int,
    timeout: float,
    max_body: int,
    max_in_flight: int = 16,
) -> None:
    """Run the front with uvicorn until stopped."""
    import uvicorn

    logger.info(
        "EaaS front on %s:%d, forwarding to the active deployment of %s", host, port, state.path
    )
    uvicorn.run(
        Front(state, timeout, max_body, max_in_flight), host=host, port=port, log_level="info"
    )
