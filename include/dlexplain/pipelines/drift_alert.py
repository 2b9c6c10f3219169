"""The step of the ``drift_alert`` DAG: one line per drift event of ``explain_reviews`` (an event
of the Asset ``dlexplain_drift_detected``), with the night, the score, the threshold and the
report's URL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def alert_lines(events: Iterable[Mapping]) -> list[str]:
    """What to tell people about each drift event's extra, in order."""
    return [
        f"explanation drift in {extra['dag_id']} on {extra['night']}: nDCG {extra['score']:.3f} "
        f"< {extra['threshold']:.2f}; report {extra['report_url']}"
        for extra in events
    ]
