"""MLflow users of the stack: one per client (Airflow, Spark jobs, EaaS), made by the admin.

With ``mlflow server --app-name basic-auth`` every request needs a user. The stack gives each
client its own (``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` in its environment), so a leaked EaaS
password reads models and writes nothing: users read everything (``default_permission = READ``)
and manage only the experiments and models they create.
"""

from __future__ import annotations

import logging
from typing import Mapping

logger = logging.getLogger(__name__)

#: user name -> the environment variable holding its password
STACK_USERS = {"airflow": "MLFLOW_AIRFLOW_PASSWORD", "spark": "MLFLOW_SPARK_PASSWORD",
               "eaas": "MLFLOW_EAAS_PASSWORD"}


def ensure_users(tracking_uri: str, passwords: Mapping[str, str]) -> list[str]:
    """Create each user with its password, or set the password of one that exists (run with the
    admin's ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``); the users created."""
    from mlflow.exceptions import RestException
    from mlflow.server.auth.client import AuthServiceClient

    client = AuthServiceClient(tracking_uri)
    created = []
    for user, password in passwords.items():
        try:
            client.create_user(user, password)
            created.append(user)
        except RestException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            client.update_user_password(user, password)
        logger.info("MLflow user %s is ready", user)
    return created


def credentials(user: str, password: str) -> dict[str, str]:
    """The environment an MLflow client authenticates with (empty when ``user`` is empty)."""
    if not user:
        return {}
    return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
