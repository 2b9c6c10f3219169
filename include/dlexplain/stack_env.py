"""The production stack's environment (``.env``): generated with fresh secrets, checked before
any service starts (the compose ``preflight`` service runs :func:`problems` and every other
service waits for it to succeed).

Checked: no value is the ``change-me`` placeholder of ``.env.example``; every secret is long
enough; the Fernet key is one; the published ports bind to loopback unless
``ALLOW_PUBLIC_BIND=yes`` says the operator means it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
from collections.abc import Mapping

PLACEHOLDER = "change-me"
#: secrets and the fewest characters each must have
SECRETS = {
    "POSTGRES_PASSWORD": 16,
    "AIRFLOW_DB_PASSWORD": 16,
    "MLFLOW_DB_PASSWORD": 16,
    "AIRFLOW_ADMIN_PASSWORD": 16,
    "AIRFLOW_JWT_SECRET": 32,
    "MINIO_ROOT_PASSWORD": 16,
    "MLFLOW_S3_SECRET_KEY": 16,
    "MLFLOW_ADMIN_PASSWORD": 16,
    "MLFLOW_AIRFLOW_PASSWORD": 16,
    "MLFLOW_SPARK_PASSWORD": 16,
    "MLFLOW_EAAS_PASSWORD": 16,
    "MLFLOW_FLASK_SECRET_KEY": 32,
    "SPARK_AUTH_SECRET": 32,
}
FERNET_KEY = "AIRFLOW_FERNET_KEY"


def _fernet_problem(value: str) -> str | None:
    try:
        if len(base64.urlsafe_b64decode(value.encode())) == 32:
            return None
    except (binascii.Error, ValueError):
        pass
    return (
        f"{FERNET_KEY} is not a Fernet key (32 url-safe base64 bytes): generate one with "
        "`dlexplain stack env`"
    )


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def problems(env: Mapping[str, str]) -> list[str]:
    """What is wrong with the stack's environment ``env`` (empty: nothing)."""
    found = [
        f"{name} is still the placeholder {PLACEHOLDER!r}"
        for name, value in env.items()
        if PLACEHOLDER in value
    ]
    for name, fewest in SECRETS.items():
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is not set")
        elif PLACEHOLDER not in value and len(value) < fewest:
            found.append(f"{name} has {len(value)} characters; at least {fewest} are needed")
    if PLACEHOLDER not in env.get(FERNET_KEY, ""):
        problem = _fernet_problem(env.get(FERNET_KEY, ""))
        if problem:
            found.append(problem)
    bind = env.get("BIND_ADDRESS", "")
    if not _loopback(bind) and env.get("ALLOW_PUBLIC_BIND", "no").lower() != "yes":
        found.append(
            f"BIND_ADDRESS={bind!r} publishes every port beyond this machine; set "
            "ALLOW_PUBLIC_BIND=yes if that is meant (and put TLS and a firewall in "
            "front)"
        )
    return found


DOCKER_GID = "DOCKER_GID"
DOCKER_SOCKET = "/var/run/docker.sock"


def generate(example: str, docker_socket: str = DOCKER_SOCKET) -> str:
    """``.env`` text from ``.env.example`` text: each placeholder replaced by a fresh secret (a
    Fernet key for ``AIRFLOW_FERNET_KEY``), ``DOCKER_GID`` by the group of ``docker_socket``
    when it exists, every other line kept."""
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and name == DOCKER_GID and os.path.exists(docker_socket):
            line = f"{name}={os.stat(docker_socket).st_gid}"
        elif sep and not line.lstrip().startswith("#") and value == PLACEHOLDER:
            fresh = (
                base64.urlsafe_b64encode(os.urandom(32)).decode()
                if name == FERNET_KEY
                else secrets.token_urlsafe(32)
            )
            line = f"{name}={fresh}"
        lines.append(line)
    return "\n".join(lines) + "\n"
