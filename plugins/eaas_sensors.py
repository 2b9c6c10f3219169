"""Airflow sensor of the EaaS redeploy: fires when a new explainer version is registered."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import BaseSensorOperator, PokeReturnValue


class NewExplainerSensor(BaseSensorOperator):
    """Waits until the newest version of ``registered_model`` is not the deployed explainer.

    Compares MLflow's model registry with the EaaS state file ``state_path`` (the DAG passes
    ``DLEXPLAIN_EAAS_STATE_PATH``). Runs in ``reschedule`` mode by default, so it holds no worker
    slot between pokes; its XCom value is the deploy target, an ``ExplainerRef`` as JSON.
    """

    template_fields = ("registered_model",)

    def __init__(self, *, registered_model: str, state_path: str | Path, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.registered_model = registered_model
        self.state_path = state_path

    def poke(self, context) -> PokeReturnValue | bool:
        from dlexplain.serving.deployment import DeploymentState
        from dlexplain.serving.redeploy import pending_explainer

        state = DeploymentState(self.state_path)
        target = pending_explainer(self.registered_model, state)
        active = state.active()
        deployed = f"run {active.run_id} (version {active.version})" if active else "nothing"
        if target is None:
            self.log.info("newest %s is deployed: %s", self.registered_model, deployed)
            return False
        self.log.info("new explainer %s version %s (run %s); deployed: %s",
                      self.registered_model, target.version, target.run_id, deployed)
        return PokeReturnValue(is_done=True, xcom_value=target.to_json_dict())
