"""The EaaS fixtures (explainers of the tiny model under a registered name of the test's own)."""

from tests.serving.conftest import log_version, registered  # noqa: F401
