"""The step of the ``drift_alert`` DAG: what to tell people about each drift event of
``explain_reviews`` (an event of the Asset ``dlexplain_drift_detected``): the night, the score
against the threshold and the chance band, the p-value, and the report's URL."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AlertMessage:
    """One drift event, as a log line, and as an e-mail's subject and HTML body."""

    line: str
    subject: str
    html: str


def _band(extra: Mapping) -> str:
    if extra.get("p_value") is None:  # events emitted before the noise floor
        return "no noise floor"
    return (
        f"chance gives below {extra['chance_low']:.3f} in under {extra['alpha']:g} of draws; "
        f"p-value {extra['p_value']:.3f}"
    )


def alert_messages(events: Iterable[Mapping]) -> list[AlertMessage]:
    """What to tell people about each drift event's extra, in order."""
    messages = []
    for extra in events:
        what = (
            f"explanation drift in {extra['dag_id']} on {extra['night']}: nDCG "
            f"{extra['score']:.3f} < {extra['threshold']:.2f} ({_band(extra)})"
        )
        url = extra["report_url"]
        messages.append(
            AlertMessage(
                line=f"{what}; report {url}",
                subject=f"[dlexplain] explanation drift in {extra['dag_id']} on {extra['night']}",
                html=(
                    f"<p>{html.escape(what)}.</p>"
                    f'<p>Report: <a href="{html.escape(url)}">{html.escape(url)}</a></p>'
                ),
            )
        )
    return messages


def email_of(messages: list[AlertMessage]) -> tuple[str, str]:
    """One e-mail's subject and HTML body for a run's events (one send: a retried task never
    mails an event twice)."""
    if len(messages) == 1:
        return messages[0].subject, messages[0].html
    subject = f"[dlexplain] explanation drift on {len(messages)} nights"
    return subject, "<hr>".join(message.html for message in messages)
