"""The production stack's files: compose is valid and complete, and no secret is in the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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


def _compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    """Debian's docker-compose on the stack with ``env_file`` only (no variable of this shell)."""
    return subprocess.run(["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE),
                           *args], capture_output=True, text=True, cwd=REPO,
                          env={"PATH": os.environ["PATH"]})


def _dlexplain(*args: str, env: dict) -> subprocess.CompletedProcess:
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}
    return subprocess.run([sys.executable, "-m", "dlexplain.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env={**inherited, **env})


def _env_file(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines()
                if line.strip() and not line.startswith("#"))


def _mount(volume) -> tuple[str, bool]:
    """(source, read-only) of a compose volume, in the short or the long syntax."""
    if isinstance(volume, dict):
        return volume.get("source", ""), bool(volume.get("read_only"))
    parts = volume.split(":")
    return parts[0], parts[-1] == "ro"


def _env_example() -> dict[str, str]:
    return _env_file(ENV_EXAMPLE.read_text())


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
    # a glob may match nothing (the local wheels: scripts/build_images.sh adds them when any)
    missing = [path for path in paths if "*" not in path and not (REPO / path).exists()]
    assert missing == []


def test_stack_services_and_ports():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) >= {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-triggerer", "mlflow", "minio",
                             "minio-init", "spark-master", "spark-worker", "eaas"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:?"), (name, port)
        if name not in ("preflight", "airflow-init", "minio-init", "mlflow-users",
                        "dlexplain-init"):  # one-shots
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


def test_compose_fails_closed_naming_what_is_missing(tmp_path):
    """Every variable is ``${VAR:?}``: compose stops at once naming a missing one, instead of
    substituting an empty string (a blank BIND_ADDRESS would publish on every interface)."""
    code = "\n".join(line for line in COMPOSE.read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    loose = re.findall(r"(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*\}", code)
    assert loose == [], "variables without :? fall back to empty"
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = _compose(empty, "config", "-q")
    assert done.returncode != 0 and "set DLEXPLAIN_IMAGE in .env" in done.stderr, done.stderr
    for name in ("BIND_ADDRESS", "POSTGRES_PASSWORD", "MLFLOW_S3_SECRET_KEY"):
        partial = tmp_path / f"without-{name}.env"
        partial.write_text("".join(f"{k}={v}\n" for k, v in _env_example().items() if k != name))
        done = _compose(partial, "config", "-q")
        assert done.returncode != 0 and f"set {name} in .env" in done.stderr, (name, done.stderr)


def test_preflight_refuses_the_example_and_accepts_a_generated_env():
    from cryptography.fernet import Fernet

    refused = _dlexplain("stack", "preflight", env=_env_example())
    assert refused.returncode == 2
    for name in ("POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "MLFLOW_S3_SECRET_KEY"):
        assert f"{name} is still the placeholder 'change-me'" in refused.stderr
    made = _dlexplain("stack", "env", "--example", str(ENV_EXAMPLE), env={})
    assert made.returncode == 0, made.stderr
    generated = _env_file(made.stdout)
    assert set(generated) == set(_env_example()) and "change-me" not in generated.values()
    Fernet(generated["AIRFLOW_FERNET_KEY"].encode())  # a real Fernet key
    accepted = _dlexplain("stack", "preflight", env=generated)
    assert accepted.returncode == 0, accepted.stderr
    for changed, message in (({"BIND_ADDRESS": "0.0.0.0"}, "publishes every port"),
                             ({"AIRFLOW_FERNET_KEY": "not-a-key"}, "is not a Fernet key"),
                             ({"AIRFLOW_JWT_SECRET": "short"}, "at least 32 are needed")):
        done = _dlexplain("stack", "preflight", env={**generated, **changed})
        assert done.returncode == 2 and message in done.stderr, (changed, done.stderr)
    allowed = {**generated, "BIND_ADDRESS": "0.0.0.0", "ALLOW_PUBLIC_BIND": "yes"}
    assert _dlexplain("stack", "preflight", env=allowed).returncode == 0


def test_stack_waits_for_preflight_keeps_backends_internal_and_secrets_off_command_lines(
        tmp_path):
    made = _dlexplain("stack", "env", "--example", str(ENV_EXAMPLE), env={})
    env_file = tmp_path / ".env"
    env_file.write_text(made.stdout)
    done = _compose(env_file, "config")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    services = resolved["services"]

    def needs(name: str) -> set[str]:
        direct = set(services[name].get("depends_on") or {})
        return direct.union(*(needs(other) for other in direct)) if direct else set()

    assert all("preflight" in needs(name) for name in services if name != "preflight")
    assert resolved["networks"]["backend"].get("internal") is True
    for name in ("postgres", "minio", "minio-init", "spark-worker"):
        assert set(services[name]["networks"]) == {"backend"} and not services[name].get("ports")
    secrets = [v for k, v in _env_file(made.stdout).items()
               if re.search(r"(PASSWORD|SECRET|FERNET_KEY|SECRET_KEY)$", k)]
    for name, service in services.items():
        parts = [service.get("command") or [], service.get("entrypoint") or []]
        line = " ".join(" ".join(p) if isinstance(p, list) else str(p) for p in parts)
        assert not [s for s in secrets if s in line], f"a secret on {name}'s command line"
    mlflow = services["mlflow"]["environment"]
    assert mlflow["AWS_ACCESS_KEY_ID"] == "mlflow", "MLflow's own MinIO account, not root"
    # each service holds only its own credentials: the Spark and EaaS passwords only where the
    # tasks that hand them over run, the Spark secret only in the cluster and its driver
    generated = _env_file(made.stdout)
    airflow = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
               "airflow-triggerer"}
    holders = {"MLFLOW_SPARK_PASSWORD": {"mlflow-users", "airflow-scheduler"},
               "MLFLOW_EAAS_PASSWORD": {"mlflow-users", "airflow-scheduler"},
               "MLFLOW_AIRFLOW_PASSWORD": {"mlflow-users"} | airflow,
               "MLFLOW_ADMIN_PASSWORD": {"mlflow", "mlflow-users"},
               "SPARK_AUTH_SECRET": {"spark-master", "spark-worker", "airflow-scheduler"}}
    for variable, expected in holders.items():
        held = {name for name, service in services.items() if name != "preflight"
                and generated[variable] in json.dumps(service.get("environment") or {})}
        assert held == expected, variable
    assert "--enable-workspaces" in services["mlflow"]["command"]
    for name, variable in (("spark-master", "SPARK_DAEMON_JAVA_OPTS"),
                           ("spark-worker", "SPARK_DAEMON_JAVA_OPTS"),
                           ("airflow-scheduler", "SPARK_SUBMIT_OPTS")):
        assert "-Dspark.authenticate=true" in services[name]["environment"][variable]
    # scoring containers: a network of their own that reaches MLflow, the front and the
    # scheduler; the deployment state written by the scheduler alone
    assert resolved["networks"]["eaas"].get("internal") is True
    assert {n for n, s in services.items() if "eaas" in (s.get("networks") or {})} == {
        "mlflow", "eaas", "airflow-scheduler"}
    assert services["airflow-scheduler"]["environment"]["DLEXPLAIN_EAAS_DOCKER_NETWORK"] == (
        f"{generated['COMPOSE_PROJECT_NAME']}_eaas")
    mounts = {name: [_mount(v)[1] for v in service.get("volumes") or []
                     if _mount(v)[0] == "eaas-state"] for name, service in services.items()}
    assert {name: ro for name, ro in mounts.items() if ro} == {"airflow-scheduler": [False],
                                                              "eaas": [True]}
    assert services["eaas"]["mem_limit"] and services["eaas"]["memswap_limit"]
