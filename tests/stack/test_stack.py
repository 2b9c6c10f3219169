"""The stack, up for real (``make stack-test``): images built here, ``docker-compose up`` with the
offline override, a night triggered from the Airflow UI's form (headless Chromium), its artifacts
through MLflow (in the S3 service) and in the MLflow UI, the sensor deploying the EaaS container
(Airflow's REST API) and replacing it for a newer explainer, a broken explainer rolled back.
The tests run in order on one stack; logs of every
service and the screenshots are kept in ``.dlexplain/stack-test``."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from dlexplain.serving.checks import PROBE_TEXT, invocations_payload
from dlexplain.serving.docker import LABEL
from dlexplain.serving.front import RUN_ID_HEADER
from tests.stack.stack import PROJECT, REPO, AirflowApi, Stack, artifact_path, run_id_of, write_env

pytestmark = [pytest.mark.stack, pytest.mark.timeout(3600)]
OUT = REPO / ".dlexplain" / "stack-test"
EXPLAINER = "sentiment-explainer"
#: what the tests learn, in order (one stack, one story)
SEEN: dict = {}


@pytest.fixture(scope="module")
def docker_client():
    import docker

    client = docker.from_env(timeout=300)
    client.ping()
    return client


def _eaas_containers(client) -> list:
    """The stack's EaaS containers (other tests may run their own on the same engine)."""
    return client.containers.list(all=True, filters={"label": LABEL,
                                                     "network": f"{PROJECT}_eaas"})


@pytest.fixture(scope="module")
def stack(docker_client, settings):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "runs.json").unlink(missing_ok=True)
    started = time.monotonic()
    subprocess.run([str(REPO / "scripts" / "build_images.sh")], check=True, cwd=REPO)
    built = time.monotonic() - started
    env = write_env(OUT / ".env", settings.paths.cache_dir)
    stack = Stack(OUT / ".env", env, OUT / "logs")
    stack.compose("down", "-v", "--remove-orphans", check=False)
    started = time.monotonic()
    try:
        stack.compose("up", "-d")
        states = stack.wait_healthy(docker_client)
        up = time.monotonic() - started
        (OUT / "timings.json").write_text(json.dumps(
            {"build_images_s": round(built), "compose_up_healthy_s": round(up),
             "services": states}, indent=2))
        yield stack
    finally:
        stack.save_logs(docker_client)
        for container in _eaas_containers(docker_client):
            container.remove(force=True)
        stack.compose("down", "-v", "--remove-orphans", check=False)


@pytest.fixture(scope="module")
def airflow(stack):
    api = AirflowApi(stack.url("AIRFLOW_PORT"), stack.env["AIRFLOW_ADMIN_USER"],
                     stack.env["AIRFLOW_ADMIN_PASSWORD"])
    for dag_id in ("explain_reviews", "eaas_redeploy"):
        api.wait_for_dag(dag_id)
    return api


@pytest.fixture(scope="module")
def mlflow_admin(stack):
    """This process talks to the stack's MLflow as its admin while the module runs."""
    values = {"MLFLOW_TRACKING_URI": stack.url("MLFLOW_PORT"),
              "MLFLOW_TRACKING_USERNAME": stack.env["MLFLOW_ADMIN_USER"],
              "MLFLOW_TRACKING_PASSWORD": stack.env["MLFLOW_ADMIN_PASSWORD"],
              # presigned MinIO URLs resolve on the backend network only (README: the stack)
              "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
              "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    import mlflow

    mlflow.set_tracking_uri(values["MLFLOW_TRACKING_URI"])
    yield values
    for key, value in saved.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def _record_run(airflow: AirflowApi, dag_id: str, run_id: str) -> None:
    """Wait for a run's success; its task durations are added to ``runs.json``."""
    state = airflow.wait_for_run(dag_id, run_id, timeout=1800)
    tasks = airflow.task_instances(dag_id, run_id)
    runs = OUT / "runs.json"
    recorded = json.loads(runs.read_text()) if runs.exists() else []
    recorded.append({"dag_id": dag_id, "run_id": run_id, "state": state,
                     "tasks_s": {t["task_id"]: round(t["duration"] or 0) for t in tasks}})
    runs.write_text(json.dumps(recorded, indent=2))
    assert state == "success", {t["task_id"]: t["state"] for t in tasks}


def _redeploy(airflow: AirflowApi) -> tuple[str, dict]:
    run_id = airflow.trigger("eaas_redeploy", {})
    state = airflow.wait_for_run("eaas_redeploy", run_id, timeout=900)
    return state, airflow.task_states("eaas_redeploy", run_id)


def _front_answers(stack: Stack) -> str:
    """The run id the EaaS front's one address answers with (header and rows agree)."""
    response = requests.post(f"{stack.url('EAAS_PORT')}/invocations", timeout=120,
                             json=invocations_payload([PROBE_TEXT, "Dull and far too long."]))
    assert response.status_code == 200, response.text[:500]
    rows = response.json()["predictions"]
    assert all(r["error"] is None for r in rows), rows
    assert {r["explainer_run_id"] for r in rows} == {response.headers[RUN_ID_HEADER]}
    return response.headers[RUN_ID_HEADER]


def _download(run_url: str, artifact_url: str) -> bytes:
    """An artifact's bytes, through the stack's MLflow (as its admin)."""
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        return Path(MlflowClient().download_artifacts(
            run_id_of(run_url), artifact_path(artifact_url), tmp)).read_bytes()


def _production_run(mlflow_admin) -> str:
    from mlflow import MlflowClient

    return MlflowClient().get_model_version_by_alias(EXPLAINER, "production").run_id


def test_a_night_from_the_ui_form_and_its_artifacts_are_in_s3(stack, airflow, mlflow_admin,
                                                             docker_client):
    from dlexplain.tracking.report import explanation_report
    from tests.stack.browser import trigger_from_the_form

    # meanwhile, an application without the stack's Spark secret tries the cluster
    _start_unauthenticated_spark_app(stack, docker_client)
    night = (date.today() - timedelta(days=1)).isoformat()
    dag_run_id = trigger_from_the_form(stack, airflow, {"partition_date": night, "max_evals": 40,
                                                        "row_limit": 4}, OUT)
    _record_run(airflow, "explain_reviews", dag_run_id)
    report = explanation_report(mlflow_admin["MLFLOW_TRACKING_URI"], "explain_reviews", night)
    assert report.rows == "4" and report.rows_failed == "0"
    assert report.bar_plots
    run_id = run_id_of(report.explanation_run_url)
    assert report.explanation_run_url.endswith("?workspace=default")  # the UI opens the run
    assert _download(report.explanation_run_url, report.bar_plots[0])[:8] == b"\x89PNG\r\n\x1a\n"
    # the bytes are in the S3 service's bucket (MLflow proxies them; clients hold no S3 keys)
    s3 = stack.containers(docker_client)["minio"]
    listing = s3.exec_run(["python", "-c", (
        "import boto3, sys; s3 = boto3.client('s3', endpoint_url='http://localhost:9000', "
        "region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x'); "
        f"print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='{stack.env['MLFLOW_BUCKET']}', "
        f"MaxKeys=1000)['Contents']))")])
    keys = listing.output.decode()
    assert listing.exit_code == 0 and run_id in keys and ".png" in keys, keys[-2000:]
    # both stores are the stack's PostgreSQL: the run in MLflow's database, the night in Airflow's
    assert (run_id,) in _postgres_rows(stack, docker_client, "MLFLOW",
                                       "SELECT run_uuid FROM runs")
    assert (dag_run_id, "success") in _postgres_rows(
        stack, docker_client, "AIRFLOW",
        "SELECT run_id, state FROM dag_run WHERE dag_id = 'explain_reviews'")
    SEEN["night"] = night


#: the log of the Spark application started without the secret (in the scheduler's container)
UNAUTHENTICATED_LOG = "/tmp/unauthenticated-spark-app.log"


def _start_unauthenticated_spark_app(stack: Stack, docker_client) -> None:
    """spark-submit to the stack's master from the scheduler's container, without the secret
    its SPARK_SUBMIT_OPTS hold (in the background; :func:`_unauthenticated_spark_app` waits)."""
    app = ("from pyspark.sql import SparkSession; "
           "print('rows=' + str(SparkSession.builder.getOrCreate().range(3).count()))")
    script = (f"echo \"{app}\" > /tmp/unauthenticated.py; env -u SPARK_SUBMIT_OPTS timeout 300 "
              "spark-submit --master spark://spark-rpc:7077 --conf spark.authenticate=false "
              "--conf spark.driver.host=airflow-scheduler --conf spark.driver.bindAddress=0.0.0.0 "
              f"/tmp/unauthenticated.py > {UNAUTHENTICATED_LOG} 2>&1; "
              f"echo exit=$? >> {UNAUTHENTICATED_LOG}")
    stack.containers(docker_client)["airflow-scheduler"].exec_run(["bash", "-c", script],
                                                                 detach=True)


def _unauthenticated_spark_app(stack: Stack, docker_client, timeout: float = 400) -> str:
    """The log of :func:`_start_unauthenticated_spark_app`'s application, once it ended."""
    scheduler = stack.containers(docker_client)["airflow-scheduler"]
    deadline = time.monotonic() + timeout
    while True:
        text = scheduler.exec_run(["cat", UNAUTHENTICATED_LOG]).output.decode(errors="replace")
        if "exit=" in text or time.monotonic() > deadline:
            return text
        time.sleep(10)


def test_mlflow_users_create_only_what_their_roles_allow(stack, mlflow_admin):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from dlexplain.tracking.users import _as_user

    with _as_user("eaas", stack.env["MLFLOW_EAAS_PASSWORD"]):
        assert MlflowClient().get_registered_model(EXPLAINER).name == EXPLAINER  # it reads
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
            MlflowClient().create_registered_model("made-by-eaas")
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
            MlflowClient().set_registered_model_alias(EXPLAINER, "production", "1")
    with _as_user("spark", stack.env["MLFLOW_SPARK_PASSWORD"]):
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
            MlflowClient().create_experiment("made-by-spark")


def _postgres_rows(stack: Stack, docker_client, service: str, query: str) -> list[tuple]:
    """Rows of ``query`` in ``service``'s database (``AIRFLOW`` or ``MLFLOW``), as its own user."""
    user, database = stack.env[f"{service}_DB_USER"], stack.env[f"{service}_DB_NAME"]
    done = stack.containers(docker_client)["postgres"].exec_run(
        ["psql", "-h", "127.0.0.1", "-U", user, "-d", database, "-tA", "-F", "\t", "-c", query],
        environment={"PGPASSWORD": stack.env[f"{service}_DB_PASSWORD"]})
    text = done.output.decode()
    assert done.exit_code == 0, text[-2000:]
    return [tuple(line.split("\t")) for line in text.splitlines() if line]


def test_the_sensor_deploys_the_first_explainer_container(stack, airflow, mlflow_admin,
                                                          docker_client):
    state, tasks = _redeploy(airflow)
    assert state == "success", tasks
    served = _production_run(mlflow_admin)
    [container] = _eaas_containers(docker_client)
    assert container.labels[f"{LABEL}.run_id"] == served
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert _front_answers(stack) == served
    SEEN["first"] = (served, container.id)
    # a compromised scoring container reaches MLflow and nothing of the backend
    reach = container.exec_run(["python", "-c", (
        "import json, socket\nout = {}\n"
        "for host, port in [('mlflow', 5000), ('spark-rpc', 7077), ('spark-master', 7077), "
        "('spark-worker', 8082), ('postgres', 5432), ('minio', 9000)]:\n"
        "    try:\n        socket.create_connection((host, port), 3).close(); "
        "out[f'{host}:{port}'] = 'open'\n"
        "    except OSError as err:\n        out[f'{host}:{port}'] = type(err).__name__\n"
        "print(json.dumps(out))")])
    reached = json.loads(reach.output.decode().strip().splitlines()[-1])
    assert reached.pop("mlflow:5000") == "open" and "open" not in reached.values(), reached
    # the Spark master refused the application without the secret
    refused = _unauthenticated_spark_app(stack, docker_client)
    assert "exit=" in refused and "exit=0" not in refused and "rows=3" not in refused, \
        refused[-3000:]
    assert "Failed to connect to master" in refused and "Expected SaslMessage" in refused, \
        refused[-3000:]  # refused for its missing authentication, not for anything else


def _log_explainer(mlflow_admin, max_evals: int) -> dict:
    """A new version of the stack's explainer, logged as the DAG's ``log_explainer`` logs it (from
    this checkout: the same package, the champion classifier) with another ``max_evals``."""
    code = ("import json; from dlexplain.config import Settings; "
            "from dlexplain.pipelines.explain_reviews import RunRequest, ensure_explainer; "
            "print(json.dumps(ensure_explainer('models:/sentiment-classifier@champion', "
            f"RunRequest(max_evals={max_evals}), "
            "Settings.from_env()).to_json_dict()))")
    logged = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **mlflow_admin}, timeout=900, cwd=REPO)
    assert logged.returncode == 0, logged.stderr[-3000:]
    return json.loads(logged.stdout.strip().splitlines()[-1])


def test_a_new_explainer_version_and_the_sensor_replaces_the_container(stack, airflow,
                                                                       mlflow_admin,
                                                                       docker_client):
    first_run, first_container = SEEN["first"]
    newer = _log_explainer(mlflow_admin, max_evals=50)
    state, tasks = _redeploy(airflow)
    assert state == "success", tasks
    served = _production_run(mlflow_admin)
    assert served == newer["run_id"] != first_run
    containers = _eaas_containers(docker_client)
    assert [c.labels[f"{LABEL}.run_id"] for c in containers] == [served]
    assert first_container not in [c.id for c in containers]
    assert _front_answers(stack) == served
    SEEN["second"] = (served, containers[0].id)


def test_mlflow_ui_shows_the_bar_plot(stack, mlflow_admin):
    from dlexplain.tracking.report import explanation_report
    from tests.stack.browser import bar_plot_in_mlflow_ui

    report = explanation_report(mlflow_admin["MLFLOW_TRACKING_URI"], "explain_reviews",
                                SEEN["night"])
    png = _download(report.explanation_run_url, report.bar_plots[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    bar_plot_in_mlflow_ui(stack, report, struct.unpack(">II", png[16:24]), OUT)


def test_a_broken_explainer_leaves_the_old_container_serving(stack, airflow, mlflow_admin,
                                                             docker_client):
    served, container_id = SEEN["second"]
    # a third version, its classifier's weights emptied through MLflow (header kept): trusted,
    # and fails when a server loads it
    broken = _log_explainer(mlflow_admin, max_evals=60)
    from tests.serving.conftest import break_weights

    break_weights(EXPLAINER, broken["version"])
    # and a newer version, registered by another user from a run of its own (the same files
    # and tags): a member who may create, given EDIT on the explainer by mistake
    foreign = _register_as_another_user(stack)

    run_id = airflow.trigger("eaas_redeploy", {})
    state = airflow.wait_for_run("eaas_redeploy", run_id, timeout=900)
    tasks = airflow.task_states("eaas_redeploy", run_id)
    assert state == "failed" and tasks["redeploy"] == "failed", tasks
    sensed = airflow.task_log("eaas_redeploy", run_id, "wait_for_new_explainer")
    assert (f"version {foreign['version']} of {EXPLAINER} is not the pipeline's" in sensed
            and "registered by another user" in sensed), sensed[-3000:]
    containers = _eaas_containers(docker_client)
    assert [c.id for c in containers] == [container_id]
    assert _front_answers(stack) == served == _production_run(mlflow_admin)
    status = stack.containers(docker_client)["airflow-scheduler"].exec_run(
        ["dlexplain", "eaas", "status"])
    history = json.loads(status.output.decode()[status.output.decode().index("{"):])["history"]
    assert history[-1]["event"] == "rollback" and history[-1]["failed_run_id"] == broken["run_id"]
    assert foreign["run_id"] not in json.dumps(history)


def _register_as_another_user(stack: Stack) -> dict:
    """A user ``mallory`` (member: may create; reads; EDIT on the explainer by mistake) registers
    a version of the stack's explainer from a run and a model of its own, in an experiment of its
    own, tagged as the champion's explainer (the sensor decides from the registry, before any
    file is read: ``tests/tracking/test_users.py`` does the same with the real files); that
    version's run id and number."""
    from mlflow import MlflowClient
    from mlflow.server.auth.client import AuthServiceClient

    from dlexplain.tracking.users import PIPELINE_ROLE, READER_ROLE, WORKSPACE, _as_user

    password = "mallory-password-0123456789"
    admin = AuthServiceClient(stack.url("MLFLOW_PORT"))
    admin.create_user("mallory", password)
    for role in admin.list_roles(WORKSPACE):
        if role.name in (PIPELINE_ROLE, READER_ROLE):
            admin.assign_role("mallory", role.id)
    admin.grant_user_permission("mallory", "registered_model", EXPLAINER, "EDIT")
    with _as_user("mallory", password):
        client = MlflowClient()
        newest = max(client.search_model_versions(f"name = '{EXPLAINER}'"),
                     key=lambda v: int(v.version))
        tags = client.get_run(newest.run_id).data.tags  # the champion's explainer's tags
        experiment = client.create_experiment("mallory-explainers")
        run = client.create_run(experiment, tags={k: v for k, v in tags.items()
                                                  if k.startswith("dlexplain.")})
        model = client.create_logged_model(experiment, name="explainer",
                                           source_run_id=run.info.run_id)
        client.finalize_logged_model(model.model_id, "READY")
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(EXPLAINER, model.model_uri, run.info.run_id,
                                              model_id=model.model_id)
    return {"run_id": run.info.run_id, "version": str(version.version)}
