"""MLflow users of the stack and what each may do, made by the admin (``dlexplain stack
mlflow-users``).

With ``mlflow server --app-name basic-auth --enable-workspaces`` every request needs a user, and
a user creates experiments or registered models only with a workspace-wide grant
(``grant_default_workspace_access = false``). The stack gives each client its own user:

* ``airflow``, the pipeline: role :data:`PIPELINE_ROLE` (workspace ``USE``: it creates), and it
  owns (``MANAGE``) the experiments and registered models the pipeline uses, made here as it;
* ``spark`` and ``eaas``: role :data:`READER_ROLE` (``READ`` on experiments and registered
  models, no workspace grant): they read models and create or change nothing (403).

Only the pipeline's user writes runs into the explainers' experiment, which is how a version
someone else registered is told apart (:mod:`dlexplain.tracking.provenance`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from dlexplain.base.environment import scoped_environ

logger = logging.getLogger(__name__)

#: user name -> the environment variable holding its password
STACK_USERS = {
    "airflow": "MLFLOW_AIRFLOW_PASSWORD",
    "spark": "MLFLOW_SPARK_PASSWORD",
    "eaas": "MLFLOW_EAAS_PASSWORD",
}
#: MLflow's one workspace (the stack runs with workspaces on for the create gate)
WORKSPACE = "default"
#: role name -> its grants (resource type, pattern, permission)
PIPELINE_ROLE = "dlexplain-pipeline"
READER_ROLE = "dlexplain-reader"
ROLES = {
    PIPELINE_ROLE: [("workspace", "*", "USE")],
    READER_ROLE: [("experiment", "*", "READ"), ("registered_model", "*", "READ")],
}
#: user -> its role
USER_ROLES = {"airflow": PIPELINE_ROLE, "spark": READER_ROLE, "eaas": READER_ROLE}
PIPELINE_USER = "airflow"


def ensure_users(tracking_uri: str, passwords: Mapping[str, str]) -> list[str]:
    """Create each user with its password, or set the password of one that exists, and give it
    its role (:data:`USER_ROLES`; run as the admin); the users created."""
    from mlflow.exceptions import RestException
    from mlflow.server.auth.client import AuthServiceClient

    client = AuthServiceClient(tracking_uri)
    roles = _ensure_roles(client)
    created = []
    for user, password in passwords.items():
        try:
            client.create_user(user, password)
            created.append(user)
        except RestException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            client.update_user_password(user, password)
        role = roles[USER_ROLES[user]]
        if role.id not in {r.id for r in client.list_user_roles(user)}:
            client.assign_role(user, role.id)
        logger.info("MLflow user %s is ready (role %s)", user, role.name)
    return created


def _ensure_roles(client) -> dict:
    """The stack's roles by name, created with exactly their grants where missing."""
    found = {role.name: role for role in client.list_roles(WORKSPACE)}
    for name, grants in ROLES.items():
        role = found.get(name) or client.create_role(WORKSPACE, name)
        held = {
            (p.resource_type, p.resource_pattern, p.permission)
            for p in client.list_role_permissions(role.id)
        }
        for grant in grants:
            if grant not in held:
                client.add_role_permission(role.id, *grant)
        found[name] = role
    return found


def ensure_pipeline_resources(
    tracking_uri: str, password: str, registered_models: list[str]
) -> list[str]:
    """Create, as the pipeline's user (so it owns them), the experiments and the
    ``registered_models`` the pipeline uses; an existing one is given to it (``MANAGE``, granted
    by the admin who runs this). The names made or given."""
    from mlflow import MlflowClient
    from mlflow.server.auth.client import AuthServiceClient

    from dlexplain.tracking.runs import EXPLAINERS_EXPERIMENT, EXPLANATIONS_EXPERIMENT

    admin = AuthServiceClient(tracking_uri)
    names = []
    for name in (EXPLAINERS_EXPERIMENT, EXPLANATIONS_EXPERIMENT):
        found = MlflowClient(tracking_uri).get_experiment_by_name(name)
        if found is None:
            with _as_user(PIPELINE_USER, password):
                MlflowClient(tracking_uri).create_experiment(name)
        else:
            _grant_manage(admin, "experiment", found.experiment_id)
        names.append(name)
    for name in registered_models:
        if MlflowClient(tracking_uri).search_registered_models(f"name = '{name}'"):
            _grant_manage(admin, "registered_model", name)
        else:
            with _as_user(PIPELINE_USER, password):
                MlflowClient(tracking_uri).create_registered_model(name)
        names.append(name)
    logger.info("owned by MLflow user %s: %s", PIPELINE_USER, ", ".join(names))
    return names


def _grant_manage(admin, resource_type: str, resource_id: str) -> None:
    """The pipeline's user manages the resource (a grant it holds already is kept: it has one
    only as the resource's creator, MANAGE, or from an earlier run of this)."""
    from mlflow.exceptions import RestException

    try:
        admin.grant_user_permission(PIPELINE_USER, resource_type, resource_id, "MANAGE")
    except RestException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _as_user(user: str, password: str):
    """MLflow requests in the ``with`` block authenticate as ``user``."""
    return scoped_environ(credentials(user, password))


def credentials(user: str, password: str) -> dict[str, str]:
    """The environment an MLflow client authenticates with (empty when ``user`` is empty)."""
    if not user:
        return {}
    return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
