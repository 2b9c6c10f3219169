"""The served explainer: MLflow's scoring server app behind a guard that bounds every request.

MLflow's scoring server (``mlflow.pyfunc.scoring_server.init``) answers ``/invocations`` in a
worker thread. Alone it admits any number of requests (they queue behind each other), reads any
body, answers a deeply nested JSON body with 500, and keeps working on a request after it has
answered 504 or its client has gone. :class:`Guard`, in front of it:

- admits at most ``max_in_flight`` requests; one more gets 503 at once, with ``Retry-After``;
- answers 415 to a request with no Content-Type, more than one, or one other than JSON or CSV
  (MLflow would otherwise read one header, the guard another, and parse Parquet it never saw);
- refuses a body larger than the request limits allow (413) and JSON nested deeper than
  ``MAX_JSON_DEPTH`` or that cannot be parsed at all (400), before MLflow reads it;
- bounds the request's work (:mod:`dlexplain.base.bounds`): it stops between two rounds of
  forward passes once the deadline passes or the client closes the connection.

Everything else (``/ping``, ``/version``, the scoring protocol) is MLflow's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from dlexplain.base.bounds import Bound, bounded
from dlexplain.model.request_limits import RequestLimits
from dlexplain.serving.admission import Slots

logger = logging.getLogger(__name__)

#: Deepest JSON nesting accepted: the scoring protocol needs 4 (``{"dataframe_split": {"data":
#: [[text]]}}``); deeper bodies are refused before any parser recurses into them.
MAX_JSON_DEPTH = 32
#: Seconds a refused client is told to wait (``Retry-After``).
RETRY_AFTER_S = 5


def json_depth(value: object) -> int:
    """How deeply ``value`` (parsed JSON) nests lists and objects (a scalar is 0)."""
    depth, stack = 0, [(value, 1)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, (dict, list)):
            depth = max(depth, at)
            stack.extend(
                (child, at + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return depth


#: The media types a request body may have: what the guard itself parses before MLflow does.
MEDIA_TYPES = ("application/json", "text/csv")


def content_type_problem(headers: list[tuple[bytes, bytes]]) -> tuple[int, str] | None:
    """(415, message) unless the request has exactly one Content-Type, JSON or CSV."""
    given = [value.decode("latin-1") for key, value in headers if key.lower() == b"content-type"]
    if len(given) != 1:
        return 415, (
            f"a request has exactly one Content-Type header, {' or '.join(MEDIA_TYPES)}"
            f" (this one has {len(given)})"
        )
    media = given[0].split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        return 415, f"Content-Type {media!r} is not accepted: use {' or '.join(MEDIA_TYPES)}"
    return None


def body_problem(body: bytes, content_type: str) -> tuple[int, str] | None:
    """(status, message) of a body refused before MLflow parses it, or None: JSON that does not
    parse or nests deeper than ``MAX_JSON_DEPTH``, CSV that is not UTF-8."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "the CSV body is not UTF-8 text"
        return None
    try:
        parsed = json.loads(body)
    except RecursionError:
        return 400, f"the JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
    except ValueError as err:  # malformed JSON or not UTF-8
        return 400, f"the body is not valid JSON: {err}"
    if json_depth(parsed) > MAX_JSON_DEPTH:
        return 400, f"the JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
    return None


class Guard:
    """ASGI middleware over the scoring server app: admission, body checks, bounded work."""

    def __init__(self, app, limits: RequestLimits):
        self.app = app
        self.limits = limits
        #: the largest body a request within the limits can need (4 bytes per character)
        self.max_body = limits.max_body
        self.slots = Slots(limits.max_in_flight)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/invocations":
            return await self.app(scope, receive, send)
        headers = list(scope.get("headers") or [])
        problem = content_type_problem(headers)
        if problem:
            return await _answer(send, *problem)
        slot = self.slots.take()
        if slot is None:
            return await _answer(
                send,
                503,
                f"the explainer is busy with other requests: retry in {RETRY_AFTER_S} s",
                {"retry-after": str(RETRY_AFTER_S)},
            )
        try:
            await self._admitted(scope, receive, slot.releasing(send))
        finally:
            slot.release()

    async def _admitted(self, scope, receive, send):
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                return await _answer(
                    send,
                    413,
                    f"the body is over {self.max_body:,} bytes, "
                    "more than the request limits allow (DLEXPLAIN_SERVE_*)",
                )
        content_type = next(v for k, v in scope["headers"] if k.lower() == b"content-type")
        problem = body_problem(bytes(body), content_type.decode("latin-1"))
        if problem:
            return await _answer(send, *problem)
        with bounded(self.limits.timeout) as bound:
            left = asyncio.ensure_future(_closed(receive, bound))
            try:
                await self.app(scope, _replay(bytes(body), left), send)
            finally:
                left.cancel()


async def _closed(receive, bound: Bound) -> None:
    """Wait for the client to close the connection, then cancel the request's work."""
    while (await receive())["type"] != "http.disconnect":
        pass
    bound.cancelled.set()


def _replay(body: bytes, closed: asyncio.Future):
    """A ``receive`` that gives the app the body read already, then waits for the close."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.shield(closed)
        return {"type": "http.disconnect"}

    return receive


async def _answer(send, status: int, message: str, headers: dict | None = None) -> None:
    """A JSON error in MLflow's shape (``error_code``, ``message``)."""
    code = {
        400: "BAD_REQUEST",
        413: "REQUEST_LIMIT_EXCEEDED",
        415: "UNSUPPORTED_MEDIA_TYPE",
        503: "TEMPORARILY_UNAVAILABLE",
    }.get(status, "BAD_REQUEST")
    payload = json.dumps({"error_code": code, "message": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def create_app(model_uri: str | None = None, limits: RequestLimits | None = None):
    """The guarded scoring server of ``model_uri`` (default ``DLEXPLAIN_SERVE_MODEL_URI``), with
    the limits of this process's settings; MLflow's own timeout is the limits' ``timeout``.

    The explainer is downloaded once into a folder of this server's (removed when the process
    exits), checked there and loaded from there (``dlexplain.model.trust``), then warmed up:
    the app exists, and ``/ping`` answers, only once its classifier is loaded and has run."""
    import atexit
    import shutil
    import tempfile

    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
    from mlflow.pyfunc import scoring_server

    from dlexplain.config import Settings
    from dlexplain.errors import ConfigError
    from dlexplain.model.refs import ExplainerRef
    from dlexplain.model.trust import download_and_load

    settings = Settings.from_env()
    limits = limits or RequestLimits.from_settings(settings)
    os.environ[MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.name] = str(limits.timeout)
    model_uri = model_uri or settings.serve.model_uri
    if not model_uri:
        raise ConfigError(
            "no explainer to serve: pass a model URI or set DLEXPLAIN_SERVE_MODEL_URI"
        )
    logger.info("serving %s (%s)", model_uri, limits)
    ref = ExplainerRef.of_uri(model_uri)
    workdir = tempfile.mkdtemp(prefix="dlexplain-served-")
    atexit.register(shutil.rmtree, workdir, True)
    model = download_and_load(ref, os.path.join(workdir, "model"))
    model.unwrap_python_model().warm_up()
    logger.info("explainer run %s loaded and warm", ref.run_id)
    return Guard(scoring_server.init(model), limits)


def serve(model_uri: str, host: str, port: int, limits: RequestLimits | None = None) -> None:
    """Serve ``model_uri`` on ``host:port`` with one worker until stopped."""
    import uvicorn

    uvicorn.run(
        create_app(model_uri, limits), host=host, port=port, workers=1, timeout_keep_alive=5
    )
