"""Airflow sensor of the EaaS redeploy: fires when the served classifier has a new explainer."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import BaseSensorOperator, PokeReturnValue


class NewExplainerSensor(BaseSensorOperator):
    """Waits until the explainer of ``classifier`` (e.g. ``models:/sentiment-classifier@champion``)
    needs a deploy: it is not the deployed one, the deployed server fails ``/ping`` or a probe
    explanation (crashed, hung), or ``alias`` points at another version than the deployed one
    (``dlexplain.serving.redeploy.redeploy_reason``).

    The target is the newest version of the classifier's registered explainer
    (``registered_model``, default ``<classifier name>-explainer``) that explains the weights the
    classifier URI names now, or the newest gated fast explainer trained from it when there is
    one (``dlexplain.serving.redeploy.serving_target``), so explaining another model never
    changes what is served. A version registered by another user is skipped, and the log says
    which and why (``dlexplain.tracking.provenance``). Compares
    MLflow's model registry with the EaaS state file ``state_path`` (the DAG passes
    ``DLEXPLAIN_EAAS_STATE_PATH``). Runs in ``reschedule`` mode by default, so it holds no worker
    slot between pokes; its XCom value is the deploy target, an ``ExplainerRef`` as JSON.
    """

    template_fields = ("classifier", "registered_model", "alias")

    def __init__(
        self,
        *,
        classifier: str,
        state_path: str | Path,
        registered_model: str | None = None,
        alias: str | None = None,
        **kwargs,
    ):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.classifier = classifier
        self.registered_model = registered_model
        self.state_path = state_path
        self.alias = alias

    def poke(self, context) -> PokeReturnValue | bool:
        from dlexplain.pipelines.eaas_redeploy import ModelError, pending

        try:
            target, deployed = pending(
                self.classifier, self.state_path, self.registered_model or None, self.alias or None
            )
        except ModelError as err:  # e.g. a fresh stack: the classifier is not registered yet
            self.log.warning("nothing to serve yet: %s", err)
            return False
        if target is None:
            self.log.info(
                "the explainer of %s is deployed (or none is logged): %s", self.classifier, deployed
            )
            return False
        self.log.info(
            "to deploy for %s: %s version %s (run %s); deployed: %s",
            self.classifier,
            target["registered_model"],
            target["version"],
            target["run_id"],
            deployed,
        )
        return PokeReturnValue(is_done=True, xcom_value=target)
