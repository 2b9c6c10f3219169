"""
### eaas_redeploy

Keeps the explanation service (EaaS) on the explainer of one classifier alias
(`classifier`, default `DLEXPLAIN_EAAS_CLASSIFIER` = `models:/sentiment-classifier@champion`).

1. **wait_for_new_explainer** (sensor, `reschedule` mode) pokes MLflow's model registry until the
   newest explainer of the weights `classifier` names now (registered model `registered_model`,
   default `<classifier name>-explainer`), or the newest gated fast explainer trained from it
   (`<explainer>-fast`, which answers fast by default and exact with the request param
   `method`), is not the deployed one; explaining another classifier never changes what is
   served. It also fires when the deployed server fails `/ping` or a probe explanation (crashed
   or hung: the redeploy replaces it), and when `alias` points at another version than the
   deployed one. A version registered by another user (not from a run of
   `DLEXPLAIN_TRUSTED_EXPERIMENT`) is skipped, and its log says why. If nothing needs a deploy
   before its timeout it is skipped;
2. **redeploy** refuses an explainer whose files are not this dlexplain's (its code, no pickles;
   `dlexplain.model.trust`), then starts the new explainer's scoring server beside the old one
   (backend
   `DLEXPLAIN_EAAS_BACKEND`: `process` or `docker`), waits for `/ping` and one real explanation,
   switches the state to it and stops the old one. If the new one is not healthy in time it is
   removed, the old one keeps serving and the task fails with the reason (rollback; no retries:
   the next run tries again);
3. **promote** points the registered model's alias (`production`) at the served version.

What is deployed, and every deploy and rollback, is in `DLEXPLAIN_EAAS_STATE_PATH`
(`dlexplain eaas status`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from dlexplain.config import Settings

from dag_defaults import dag_defaults
from eaas_sensors import NewExplainerSensor

SETTINGS = Settings.from_env()


@dag(
    **dag_defaults(
        schedule=SETTINGS.eaas.schedule,
        max_active_runs=1,
        doc_md=__doc__,
        retry_delay=timedelta(seconds=30),
        max_retry_delay=timedelta(minutes=5),
        task_timeout=SETTINGS.schedule.task_timeout,
    ),
    tags=["dlexplain", "eaas", "serving", "mlflow"],
    params={
        "classifier": Param(
            SETTINGS.eaas.classifier,
            type="string",
            minLength=1,
            description="serve the explainer of this classifier "
            "(models:/name@alias, models:/name/N or a folder)",
        ),
        "registered_model": Param(
            None,
            type=["null", "string"],
            description="registered explainer model (empty: <classifier name>-explainer)",
        ),
        "alias": Param(
            "production",
            type="string",
            minLength=1,
            description="alias moved to the served version",
        ),
    },
)
def eaas_redeploy():
    wait = NewExplainerSensor(
        task_id="wait_for_new_explainer",
        classifier="{{ params.classifier }}",
        registered_model="{{ params.registered_model or '' }}",
        alias="{{ params.alias }}",
        state_path=str(SETTINGS.eaas.state_path),
        poke_interval=SETTINGS.eaas.poke_interval,
        timeout=SETTINGS.eaas.sensor_timeout,
        soft_fail=True,
    )

    @task(retries=0)
    def redeploy(target: dict) -> dict:
        from dlexplain.pipelines.eaas_redeploy import redeploy

        return redeploy(target, SETTINGS)

    @task
    def promote(deployment: dict) -> str:
        from dlexplain.pipelines.eaas_redeploy import promote

        return promote(deployment, get_current_context()["params"]["alias"])

    promote(redeploy(wait.output))


eaas_redeploy()
