"""The production stack's files: compose is valid and complete, and no secret is in the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
#: literal secrets that must never be in code: MinIO's sample password, assignments of
#: passwords and secret keys to string literals, AWS access key ids, URLs with a password
SECRET_PATTERNS = [
    re.compile(r"minio123"),
    re.compile(r"""(?i)\b\w*(password|passwd|secret_key|secret)\w*\s*[:=]\s*['"][^'"\s{}$]{3,}"""),
    re.compile(r"(?i)password=[^\s'\"{}$&]{3,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"[a-z+]+://[^\s:/@'\"{}$]+:[^\s@'\"{}$]+@"),
]


def _variables(text: str) -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def _env_example() -> dict[str, str]:
    lines = [line for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_compose_file_is_valid():
    """Debian's docker-compose parses it with the example environment (no engine needed)."""
    done = subprocess.run(["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE),
                           "config", "-q"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


def test_every_compose_variable_is_in_env_example():
    assert _variables(COMPOSE.read_text()) <= set(_env_example())


def test_every_mounted_or_copied_file_exists():
    compose = yaml.safe_load(COMPOSE.read_text())
    sources = [volume.split(":")[0] for service in compose["services"].values()
               for volume in service.get("volumes", []) if volume.startswith("./")]
    sources += re.findall(r"^COPY\s+(?!--)(.+)\s+\S+$", (REPO / "Dockerfile").read_text(), re.M)
    paths = [path for entry in sources for path in entry.split()]
    assert len(paths) >= 8
    missing = [path for path in paths if not (REPO / path).exists()]
    assert missing == []


def test_stack_services_and_ports():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) >= {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-triggerer", "mlflow", "minio",
                             "minio-init", "spark-master", "spark-worker", "eaas"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS}:"), (name, port)
        if name not in ("airflow-init", "minio-init"):  # one-shot jobs
            assert "healthcheck" in service, name


def _secrets_in(folders: list[Path]) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sh", ".yaml", ".yml", ".json", ".cfg"):
                for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if any(pattern.search(line) for pattern in SECRET_PATTERNS):
                        found.append(f"{path}:{number}: {line.strip()}")
    return found


def test_no_secret_literals_in_code():
    assert _secrets_in([REPO / "include", REPO / "dags", REPO / "plugins"]) == []


def test_compose_takes_every_secret_from_the_environment():
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if re.search(r"(PASSWORD|SECRET|FERNET_KEY|ACCESS_KEY|ACCESS_KEY_ID)$", key):
                assert str(value).startswith("${"), (name, key)


@pytest.mark.parametrize("line", [
    'password = "minio123"', "MINIO_ROOT_PASSWORD='hunter22'", "url = 'postgresql://u:pw@db/x'",
    "key = 'AKIAABCDEFGHIJKLMNOP'", "conn = 'host=db password=s3cret'",
])
def test_the_secret_check_catches_literals(tmp_path, line):
    (tmp_path / "leak.py").write_text(f"{line}\n")
    assert len(_secrets_in([tmp_path])) == 1
