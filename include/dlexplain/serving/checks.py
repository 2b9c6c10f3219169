"""Is a scoring server fit to take traffic: healthy, and one real explanation from the right run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import requests

from dlexplain.errors import DlexplainError
from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)
PROBE_TEXT = "A moving story, beautifully acted."
#: what a server that is up but not ready answers: busy (503), or its first request, which warms
#: it up, ran past the server's own time limit (504)
NOT_READY = (503, 504)
#: The probe's explanation must add up to the model's output within this.
ADDITIVITY_TOLERANCE = 1e-3


class ServingError(DlexplainError):
    """A scoring server did not start, answer or explain as expected."""


class ServerNotReady(ServingError):
    """A scoring server answered 503 or 504: up, but busy or still warming up (may heal)."""


def invocations_payload(texts: list, text_column: str = "text", params: dict | None = None) -> dict:
    """The ``dataframe_split`` request body for ``texts`` (with predict ``params``, e.g.
    ``{"method": "exact"}``)."""
    body: dict = {"dataframe_split": {"columns": [text_column], "data": [[t] for t in texts]}}
    if params:
        body["params"] = params
    return body


def explain(
    url: str,
    texts: list,
    text_column: str = "text",
    timeout: float = 120.0,
    params: dict | None = None,
) -> list[dict]:
    """POST ``texts`` to ``url``/invocations; the typed explanation rows (ServingError on
    4xx/5xx)."""
    response = requests.post(
        f"{url}/invocations", json=invocations_payload(texts, text_column, params), timeout=timeout
    )
    if response.status_code != 200:
        error = ServerNotReady if response.status_code in NOT_READY else ServingError
        raise error(f"{url}/invocations answered {response.status_code}: {response.text[:500]}")
    return response.json()["predictions"]


def wait_until_healthy(url: str, timeout: float, problem: Callable[[], str | None]) -> None:
    """Poll ``url``/ping until it answers 200; ``problem()`` says why waiting is pointless."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/ping", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        reason = problem()
        if reason:
            raise ServingError(f"scoring server {url} failed: {reason}")
        if time.monotonic() > deadline:
            raise ServingError(f"scoring server {url} not healthy after {timeout:.0f}s")
        time.sleep(1)


def probe(url: str, run_id: str, text_column: str = "text", patience: float = 0.0) -> dict:
    """Explain one sentence; the row, if it came from ``run_id`` and adds up (else ServingError).
    A server not ready yet (:class:`ServerNotReady`) is asked again every 5 s for ``patience``
    seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            row = explain(url, [PROBE_TEXT], text_column)[0]
            break
        except ServerNotReady as err:
            if time.monotonic() + 5 > deadline:
                raise
            logger.info("%s: asking again in 5 s", err)
            time.sleep(5)
    explanation = TextExplanation.from_dict(row)
    if not explanation.ok:
        raise ServingError(f"{url} could not explain the probe text: {explanation.error}")
    if row.get("explainer_run_id") != run_id:
        raise ServingError(
            f"{url} answered for explainer {row.get('explainer_run_id')}, expected {run_id}"
        )
    error = explanation.additivity_error
    if error is None or not error < ADDITIVITY_TOLERANCE:  # 0.0 is a perfect sum, not a miss
        raise ServingError(f"{url}: probe explanation does not add up (error {error})")
    return row


def liveness_problem(url: str, run_id: str, text_column: str = "text") -> str | None:
    """Why the server at ``url`` is not fit to serve ``run_id`` any more (``/ping`` fails
    within 5 s, or the probe explanation fails), or None when it is."""
    try:
        if requests.get(f"{url}/ping", timeout=5).status_code != 200:
            return f"{url}/ping does not answer 200"
        probe(url, run_id, text_column)
    except (requests.RequestException, ServingError) as err:
        return f"{type(err).__name__}: {err}"
    return None
