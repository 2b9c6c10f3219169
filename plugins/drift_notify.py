"""Drift alerts that reach someone: the Airflow notifier a connection chooses.

The connection ``DLEXPLAIN_ALERT_CONN_ID`` (default ``dlexplain_drift_alert``) decides: of type
``smtp``, a run's drift events are one e-mail to ``DLEXPLAIN_ALERT_TO`` sent by the SMTP
provider's ``SmtpNotifier`` (host, port, login, TLS and ``from_email`` from the connection, as the
provider reads them).
No such connection: nothing is sent (the task logs a warning per event). Another type is refused
with a message: other notifiers take other arguments.
"""

from __future__ import annotations

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from dlexplain.config import AlertSettings
from dlexplain.pipelines import ConfigError

#: Connection types drift_alert sends through.
SENDS_THROUGH = ("smtp",)


def notifier(settings: AlertSettings, subject: str, html: str):
    """The notifier of the alert connection for one message, or None when the connection does not
    exist; a connection that cannot send fails fast (ConfigError), before anything is sent."""
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
    if not connection.extra_dejson.get("from_email"):
        raise ConfigError(
            f"connection {settings.conn_id!r} has no from_email in its extra: the address the "
            "e-mail comes from"
        )
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    # the task calls notify() itself: BaseNotifier.__call__ would render subject and body as
    # Jinja templates, and they carry text that is not ours (DAG ids, URLs)
    return SmtpNotifier(
        to=list(settings.to), subject=subject, html_content=html, smtp_conn_id=settings.conn_id
    )
