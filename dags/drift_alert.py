"""
### drift_alert

Runs each time `explain_reviews` finds that a night's explanations drifted from their baseline
(an event of the Asset `dlexplain_drift_detected`: the score was below the threshold and below
what chance gives). For each event it logs a WARNING with the night, the nDCG score, the
threshold, the chance band, the p-value and the drift report's URL, and sends the run's events
through the notifier of the Airflow connection `DLEXPLAIN_ALERT_CONN_ID` (default
`dlexplain_drift_alert`): of type `smtp`, one e-mail to `DLEXPLAIN_ALERT_TO` by the SMTP
provider's notifier (`from_email` in the connection's extra). Without that connection the
warnings are all; a connection that cannot send fails the task at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from dlexplain.config import Settings

from dag_defaults import dag_defaults
from dlexplain_assets import DRIFT_DETECTED
from fail_fast import fail_fast

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
    @fail_fast
    def alert(*, triggering_asset_events=None) -> list[dict]:
        from airflow.sdk import get_current_context

        from dlexplain.pipelines.drift_alert import alert_messages, email_of
        from drift_notify import notifier

        events = [event.extra for event in triggering_asset_events[DRIFT_DETECTED]]
        messages = alert_messages(events)
        for message in messages:
            logger.warning("%s", message.line)
        sending = notifier(SETTINGS.alert, *email_of(messages))
        if sending is None:
            logger.warning(
                "no Airflow connection %r: nobody was notified (see the DAG's docs)",
                SETTINGS.alert.conn_id,
            )
        else:
            sending.notify(get_current_context())
        return events

    alert()


drift_alert()
