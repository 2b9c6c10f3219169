"""
### drift_alert

Runs each time `explain_reviews` finds that a night's explanations drifted from their baseline
(an event of the Asset `dlexplain_drift_detected`): it logs one WARNING per event with the
night, the nDCG score, the threshold and the drift report's URL. Replace `alert` (or add a task)
to notify people: e.g. the Slack or SMTP provider's notifier with the same fields.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from dlexplain.config import Settings

from dag_defaults import dag_defaults
from dlexplain_assets import DRIFT_DETECTED

logger = logging.getLogger(__name__)
SETTINGS = Settings.from_env()


@dag(
    **dag_defaults(
        schedule=DRIFT_DETECTED,
        max_active_runs=4,
        doc_md=__doc__,
        retry_delay=timedelta(seconds=30),
        max_retry_delay=timedelta(minutes=5),
        task_timeout=SETTINGS.schedule.task_timeout,
    ),
    tags=["dlexplain", "explainability", "alert"],
)
def drift_alert():
    @task(inlets=[DRIFT_DETECTED])
    def alert(*, triggering_asset_events=None) -> list[dict]:
        from dlexplain.pipelines.drift_alert import alert_lines

        events = [event.extra for event in triggering_asset_events[DRIFT_DETECTED]]
        for line in alert_lines(events):
            logger.warning("%s", line)
        return events

    alert()


drift_alert()
