"""
### train_fast_explainer

Trains a fast (amortized) explainer from the exact explanations the pipeline already made, and
registers it only if it follows held-out exact explanations closely enough.

Runs each time `explain_reviews` catalogues a night (an event of the Asset
`dlexplain_explained_reviews`, which names the exact explainer that explained it), or on demand
for `source_model`'s newest exact explainer.

1. **gather** takes every exact explainer the triggering events name (nights that ended while a
   run was queued fold into one run, and they may name different explainers), finds each one's
   explanations through MLflow (each explanation run records its Parquet output) and counts the
   distinct texts; an explainer with fewer than `min_new_texts` texts that its last fast
   explainer did not see is left out (default `DLEXPLAIN_FAST_MIN_NEW_TEXTS`, what Asset-triggered
   runs use); when none is left, `train` is skipped, not failed;
2. **train**, once per explainer left (mapped, one at a time), holds out a stable share of the
   texts (`held_out_fraction`, by a hash of the text), trains the classifier's own encoder with a
   per-token head on the rest (a learning curve on growing shares), measures fidelity (Spearman,
   top-5 overlap and sign agreement) and faithfulness (fast vs exact vs random) on the held-out
   texts, scores the fast and the exact explanations of `reference_texts` of them against a finer
   reference (`reference_max_evals`, metrics `reference_*`), and logs it all with a report;
   when every gate threshold holds it registers the fast explainer as `<exact explainer>-fast`
   (it answers `method: fast` by default, `exact` on request). A failed gate registers nothing;
   its figures are logged all the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from airflow.sdk import Param, dag, get_current_context, task

from dlexplain.config import Settings
from dlexplain.pipelines.train_fast_explainer import (
    MAX_MAX_EVALS,
    MAX_REFERENCE_TEXTS,
    MIN_MAX_EVALS,
    GateThresholds,
    TrainingConfig,
)

from dag_defaults import classifier_params, dag_defaults
from dlexplain_assets import EXPLAINED_REVIEWS
from fail_fast import fail_fast

SETTINGS = Settings.from_env()
GATE = GateThresholds()
FIT = TrainingConfig()


@dag(
    **dag_defaults(
        schedule=EXPLAINED_REVIEWS,
        max_active_runs=1,
        doc_md=__doc__,
        retry_delay=timedelta(minutes=1),
        max_retry_delay=timedelta(minutes=15),
        task_timeout=SETTINGS.schedule.task_timeout,
    ),
    tags=["dlexplain", "explainability", "fast-explainer", "mlflow"],
    params={
        **classifier_params(
            "the classifier whose newest exact explainer to learn from, when "
            "no Asset event names one",
            SETTINGS.run.source_model,
        ),
        "min_new_texts": Param(
            SETTINGS.schedule.fast_min_new_texts,
            type="integer",
            minimum=0,
            maximum=10_000_000,
            description="train only when this many explained texts are new "
            "since the last fast explainer",
        ),
        "held_out_fraction": Param(
            0.2,
            type="number",
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            description="share of texts held out to judge it",
        ),
        "epochs": Param(FIT.epochs, type="integer", minimum=1, maximum=100),
        "steps": Param(
            FIT.steps,
            type=["null", "integer"],
            minimum=1,
            maximum=1_000_000,
            description="optimizer steps in all (empty: epochs passes over the "
            "texts); a fixed count bounds the training time however many texts "
            "there are",
        ),
        "learning_rate": Param(
            FIT.learning_rate,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            description="encoder learning rate",
        ),
        "head_learning_rate": Param(
            FIT.head_learning_rate, type="number", exclusiveMinimum=0, maximum=1
        ),
        "correlation_weight": Param(
            FIT.correlation_weight,
            type="number",
            minimum=0,
            maximum=100,
            description="weight of the rank-aware loss term (1 - "
            "Pearson of each text's values with its exact "
            "ones) beside the squared error",
        ),
        "min_median_spearman": Param(
            GATE.min_median_spearman, type="number", minimum=-1, maximum=1
        ),
        "min_top5_overlap": Param(GATE.min_top5_overlap, type="number", minimum=0, maximum=5),
        "min_top5_sign_agreement": Param(
            GATE.min_top5_sign_agreement, type="number", minimum=0, maximum=1
        ),
        "min_comprehensiveness_ratio": Param(
            GATE.min_comprehensiveness_ratio, type="number", minimum=0, maximum=100
        ),
        "min_held_out": Param(GATE.min_held_out, type="integer", minimum=1, maximum=1_000_000),
        "min_reference_ratio": Param(
            GATE.min_reference_ratio,
            type="number",
            minimum=0,
            maximum=100,
            description="with reference_texts: fast's median Spearman and top-5 "
            "overlap against the reference, each at least this share of the "
            "exact explainer's",
        ),
        "reference_texts": Param(
            32,
            type="integer",
            minimum=0,
            maximum=MAX_REFERENCE_TEXTS,
            description="held-out texts also explained with "
            "reference_max_evals, to score fast and exact "
            "against a finer reference (0: none)",
        ),
        "reference_max_evals": Param(
            2000,
            type="integer",
            minimum=MIN_MAX_EVALS,
            maximum=MAX_MAX_EVALS,
            description="evaluations per text of the reference",
        ),
    },
)
def train_fast_explainer():
    @task(inlets=[EXPLAINED_REVIEWS])
    @fail_fast
    def gather(*, triggering_asset_events=None) -> list[dict]:
        from dlexplain.pipelines.train_fast_explainer import gather_named

        params = get_current_context()["params"]
        events = (triggering_asset_events or {}).get(EXPLAINED_REVIEWS, [])
        found = gather_named(
            params["source_model"],
            params["min_new_texts"],
            SETTINGS,
            params["explainer_name"],
            [event.extra for event in events],
        )
        return [data.to_json_dict() for data in found if data.ready]

    @task(
        execution_timeout=timedelta(seconds=SETTINGS.schedule.job_timeout),
        max_active_tis_per_dagrun=1,
        map_index_template="{{ exact_explainer }}",
    )
    @fail_fast
    def train(data: dict) -> dict:
        from dlexplain.pipelines.train_fast_explainer import TrainingData, train_fast

        context = get_current_context()
        params = context["params"]
        # the label of map_index_template: a key Airflow's Context type does not declare
        cast(dict, context)["exact_explainer"] = data["registered_model"] or data["exact_run_id"]
        thresholds = GateThresholds(**{k: params[k] for k in GATE.to_dict()})
        fit = TrainingConfig(
            **{
                k: params[k]
                for k in (
                    "epochs",
                    "steps",
                    "learning_rate",
                    "head_learning_rate",
                    "correlation_weight",
                )
            }
        )
        return train_fast(
            TrainingData.from_json_dict(data),
            thresholds=thresholds,
            training=fit,
            held_out_fraction=params["held_out_fraction"],
            settings=SETTINGS,
            reference_texts=params["reference_texts"],
            reference_max_evals=params["reference_max_evals"],
        ).to_json_dict()

    train.expand(data=gather())


train_fast_explainer()
