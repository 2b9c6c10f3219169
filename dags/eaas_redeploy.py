"""
### eaas_redeploy

Keeps the explanation service (EaaS) on the newest registered explainer.

1. **wait_for_new_explainer** (sensor, `reschedule` mode) pokes MLflow's model registry until the
   newest version of `registered_model` is not the deployed one; if nothing new appears before
   its timeout it is skipped, not failed;
2. **redeploy** starts the new explainer's scoring server beside the old one (backend
   `DLEXPLAIN_EAAS_BACKEND`: `process` or `docker`), waits for `/ping` and one real explanation,
   switches the state to it and stops the old one. If the new one is not healthy in time it is
   removed, the old one keeps serving and the task fails with the reason (rollback; no retries:
   the next run tries again);
3. **promote** points the registered model's alias (`production`) at the served version.

What is deployed, and every deploy and rollback, is in `DLEXPLAIN_EAAS_STATE_PATH`
(`dlexplain eaas status`).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from eaas_sensors import NewExplainerSensor

POKE_INTERVAL = int(os.environ.get("DLEXPLAIN_EAAS_POKE_INTERVAL", "60"))
SENSOR_TIMEOUT = int(os.environ.get("DLEXPLAIN_EAAS_SENSOR_TIMEOUT", "540"))


@dag(
    schedule=os.environ.get("DLEXPLAIN_EAAS_SCHEDULE", "*/10 * * * *"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["dlexplain", "eaas", "serving", "mlflow"],
    doc_md=__doc__,
    default_args={
        "owner": "dlexplain",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=5),
    },
    params={
        "registered_model": Param("sentiment-explainer", type="string", minLength=1,
                                  description="registered explainer model to serve"),
        "alias": Param("production", type="string", minLength=1,
                       description="alias moved to the served version"),
    },
)
def eaas_redeploy():
    wait = NewExplainerSensor(
        task_id="wait_for_new_explainer",
        registered_model="{{ params.registered_model }}",
        poke_interval=POKE_INTERVAL,
        timeout=SENSOR_TIMEOUT,
        soft_fail=True,
    )

    @task(retries=0)
    def redeploy(target: dict) -> dict:
        from dlexplain.serving.backends import redeploy_target

        return redeploy_target(target)

    @task
    def promote(deployment: dict) -> str:
        from dlexplain.registry import set_alias

        params = get_current_context()["params"]
        return set_alias(params["registered_model"], params["alias"], deployment["version"])

    promote(redeploy(wait.output))


eaas_redeploy()
