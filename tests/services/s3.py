"""A local S3 API: moto's standalone server on a free port, with a boto3 client."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dlexplain.base.processes import free_port
from tests.services.processes import background

#: moto accepts any credentials
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto", "AWS_SECRET_ACCESS_KEY": "moto",
                  "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Api:
    endpoint: str
    client: object

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach this S3 API (boto3, pyarrow, MLflow)."""
        return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


@contextlib.contextmanager
def running_s3(folder: Path):
    """moto's server on a free port, logging into ``folder``; yields an :class:`S3Api`."""
    import boto3
    import requests

    endpoint = f"http://127.0.0.1:{free_port()}"

    def ready() -> bool:
        try:
            return requests.get(endpoint, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    moto = str(Path(sys.executable).parent / "moto_server")
    with background([moto, "-H", "127.0.0.1", "-p", endpoint.rsplit(":", 1)[1]],
                    folder / "moto.log", dict(os.environ), ready, timeout=60):
        client = boto3.client("s3", endpoint_url=endpoint,
                              aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                              region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"])
        yield S3Api(endpoint, client)
