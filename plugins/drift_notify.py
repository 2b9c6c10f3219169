"""Drift alerts that reach someone: the Airflow notifier a connection chooses.

The connection ``DLEXPLAIN_ALERT_CONN_ID`` (default ``dlexplain_drift_alert``) decides: of type
``smtp``, each drift event is an e-mail to ``DLEXPLAIN_ALERT_TO`` sent by the SMTP provider's
``SmtpNotifier`` (host, port, login and TLS from the connection, as the provider reads them).
No such connection: nothing is sent (the task logs a warning per event). Another type is refused
with a message: other notifiers take other arguments.
"""

from __future__ import annotations

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from dlexplain.config import AlertSettings
from dlexplain.pipelines import ConfigError
from dlexplain.pipelines.drift_alert import AlertMessage

#: Connection types drift_alert sends through.
SENDS_THROUGH = ("smtp",)


def notifiers(settings: AlertSettings, messages: list[AlertMessage]) -> list | None:
    """One notifier per message, or None when the connection does not exist."""
    try:
        connection = BaseHook.get_connection(settings.conn_id)
    except AirflowNotFoundException:
        return None
    if connection.conn_type not in SENDS_THROUGH:
        raise ConfigError(
            f"connection {settings.conn_id!r} is of type {connection.conn_type!r}: drift_alert "
            f"sends through {list(SENDS_THROUGH)}"
        )
    if not settings.to:
        raise ConfigError(
            f"connection {settings.conn_id!r} sends e-mail: set DLEXPLAIN_ALERT_TO to the "
            "addresses to send it to"
        )
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return [
        SmtpNotifier(
            to=list(settings.to),
            subject=message.subject,
            html_content=message.html,
            smtp_conn_id=settings.conn_id,
        )
        for message in messages
    ]
