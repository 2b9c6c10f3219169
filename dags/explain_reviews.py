"""
### explain_reviews

Explains one day's partition of reviews with the SHAP explainer of a text classifier, and keeps
the explanations where people look.

1. **prepare** checks what can be checked before any work: the day's input exists (Parquet, CSV
   or JSON lines; a file or a folder of Spark's `part-*` files; gzip too; `input_format` when the
   suffix says nothing) and has `text_column`, the source model's config is readable,
   `class_to_plot` is one of its classes, `method` answers `granularity`;
2. **log_explainer** logs the explainer as an MLflow pyfunc model, or reuses the one already logged
   for the same source model and settings, registers it as `<classifier name>-explainer` (or
   `explainer_name`) and pushes its `run_id` to XCom; with a fast `method` it
   pushes the newest gated fast explainer trained from it (`<explainer>-fast`; the task fails at
   once when none has passed the gate yet);
3. **batch_explain** runs `dlexplain/spark/job.py` with `spark-submit` on connection
   `spark_default` (the explainer as a pandas UDF over the partition; texts already explained by
   the same explainer come from the explanation cache) and writes Parquet atomically, every
   input column kept;
   Each row's values are per `granularity` unit: token, or words, sentences or paragraphs
   masked as wholes. A row whose tokens do not rebuild its text or that is not additive is
   stored as an error row (`refused: …`), never as an explanation.
   With `faithfulness` on, each row also gets its ERASER comprehensiveness and sufficiency
   against a random ranking (about 20 more forward passes a text). With `fast+audit`, a seeded
   `audit_fraction` of the texts is also explained exactly into the output's `_audit` folder:
   **measure_night** logs the fast rows' fidelity to them (`audit_*` metrics, per night and in
   the trend run) and the next `train_fast_explainer` run learns from them. With `fast+verify`,
   each fast row is checked (its comprehensiveness against random, ~10 forward passes) and
   explained exactly where the check fails: measure_night logs `verify_reexplained_share`;
4. **open_explanation_run** finds or creates the one MLflow explanation run of this DAG and logical
   date, tags it with the output and the explainer, and updates the Asset
   `dlexplain_explained_reviews` (the DAG `train_fast_explainer` runs on it);
   **log_batch_artifacts** (one mapped task per batch; when a night has more batches than
   `DLEXPLAIN_ARTIFACT_GROUPS` (64) or Airflow's `max_map_length`, consecutive batches share a
   task and are logged as one group) logs each batch's bar plots (one per predicted class, or
   `class_to_plot`), the first row's signed bar plot, Shapley arrays, text plots (at most 4) and
   mean faithfulness into it; the run's metrics `model_evaluations` and `cache_hits`
   say what the Spark job computed and what it reused;
5. **measure_night** logs the night's global token importance (table, signed plot per class)
   and its metrics (rows, errors, faithfulness) into the run and into the DAG's trend run, where
   MLflow charts them across nights;
6. **check_drift** compares tonight's token ranking with the baseline (the previous
   `drift_baseline_nights` nights of the same classifier pooled, or the pinned
   `drift_baseline_from`..`drift_baseline_to`) with nDCG@50, against the noise floor of chance
   (a permutation test: tonight's and the baseline's texts split at random into the same sizes), and
   logs the report `quality/drift.html`. A night has drifted when its score is below
   `drift_threshold` and its p-value below `drift_alpha`; with fewer than `drift_min_texts` texts
   tonight or in the baseline it is `too_small`. A drifted night emits an event of the Asset
   `dlexplain_drift_detected` (the DAG `drift_alert` runs on it and notifies people): the night's
   explanations still succeed, and the alert is a recorded, visible event any DAG can act on.

Deterministic errors (a bad param, a missing partition or column, an unknown class, a model that
cannot be read) fail their task at once with the message; only transient faults are retried.

Runs nightly, on demand from the trigger form (params below), and as backfills:
`airflow backfill create --dag-id explain_reviews --from-date 2026-01-01 --to-date 2026-01-03
--max-active-runs 1`. The DAG runs one run at a time (`max_active_runs=1`), but a backfill's own
limit applies independently of it (Airflow's default lets it run many nights at once): with
`--max-active-runs 1` a backfill explains its nights in date order, and each night's drift is
measured against the nights before it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, conf, dag, get_current_context, task

from dlexplain.config import Settings
from dlexplain.pipelines.explain_reviews import (
    DATASET_TEMPLATE,
    INPUT_FORMATS,
    NO_PICKLE,
    OUTPUT_TEMPLATE,
    DriftRule,
    application_path,
    drift_param_schemas,
    param_schemas,
)

from dag_defaults import classifier_params, dag_defaults
from dlexplain_assets import DRIFT_ALIAS, DRIFT_DETECTED, EXPLAINED_REVIEWS
from fail_fast import BatchExplainOperator, fail_fast

SETTINGS = Settings.from_env()
#: the request params' schemas, from the rules RunRequest checks
REQUEST = param_schemas()
#: the drift params' schemas, from the rules DriftRule checks
DRIFT = drift_param_schemas()
RULE = DriftRule()


@dag(
    **dag_defaults(
        schedule=SETTINGS.schedule.schedule,
        max_active_runs=1,
        doc_md=__doc__,
        retry_delay=timedelta(minutes=1),
        max_retry_delay=timedelta(minutes=30),
        task_timeout=SETTINGS.schedule.task_timeout,
    ),
    tags=["dlexplain", "explainability", "spark", "mlflow"],
    params={
        **classifier_params("the classifier to explain", SETTINGS.run.source_model),
        "dataset_path_template": Param(
            DATASET_TEMPLATE,
            type="string",
            minLength=1,
            description="input partition: Parquet, CSV or JSON lines "
            "(a file or a folder of files, gzip too), a "
            "path or URI (s3://...); placeholders {ds}, "
            "{data_dir}, {home}",
        ),
        "input_format": Param(
            None,
            type=["null", "string"],
            enum=[None, *INPUT_FORMATS],
            description="read the input as this format (empty: from the "
            "suffix of the file or of the folder's files; .gz "
            "and Spark's _SUCCESS/.crc files understood)",
        ),
        "output_path_template": Param(
            OUTPUT_TEMPLATE, type="string", minLength=1, description="output Parquet folder"
        ),
        "partition_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="explain this day instead of the logical date",
        ),
        "text_column": Param(
            "text", type="string", minLength=1, description="input column holding the texts"
        ),
        "id_column": Param("id", type="string", description="sort output by it ('' = none)"),
        "max_evals": Param(
            None,
            **REQUEST["max_evals"],
            description="model evaluations per text (empty: the setting DLEXPLAIN_MAX_EVALS)",
        ),
        "rows_per_batch": Param(
            16,
            type="integer",
            minimum=1,
            maximum=10000,
            description="rows per logged artifact batch",
        ),
        "class_to_plot": Param(
            None,
            type=["null", "string"],
            minLength=1,
            description="class of the bar plots (empty: one plot per class the batch predicts)",
        ),
        "row_limit": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=100_000_000,
            description="explain at most this many rows",
        ),
        "method": Param(
            "exact",
            **REQUEST["method"],
            description="exact: shap (~500 forward passes a text); fast: the gated "
            "fast explainer (a few passes); fast+verify: fast, each row "
            "checked (~10 passes) and explained exactly where the check fails; "
            "fast+audit: fast, and exact too for a seeded sample whose "
            "fidelity is logged",
        ),
        "granularity": Param(
            "token",
            **REQUEST["granularity"],
            description="unit of the explanation: token, or words, sentences "
            "or paragraphs masked as wholes (fewer features: "
            "cheaper and steadier on long texts; fast methods: "
            "token or word)",
        ),
        "audit_fraction": Param(
            0.05,
            **REQUEST["audit_fraction"],
            description="fast+audit: share of the texts explained exactly",
        ),
        "audit_seed": Param(
            0,
            **REQUEST["audit_seed"],
            description="fast+audit: seed of the audited sample",
        ),
        "faithfulness": Param(
            True,
            **REQUEST["faithfulness"],
            description="measure each explanation's faithfulness (ERASER "
            "comprehensiveness/sufficiency vs random, ~20 more "
            "forward passes a text)",
        ),
        "drift_threshold": Param(
            RULE.threshold,
            **DRIFT["drift_threshold"],
            description="nDCG@50 below which the night may have drifted",
        ),
        "drift_alpha": Param(
            RULE.alpha,
            **DRIFT["drift_alpha"],
            description="drifted only if chance gives a score as low less often than this "
            "(the night's p-value against random splits of tonight's and the baseline's texts)",
        ),
        "drift_min_texts": Param(
            RULE.min_texts,
            **DRIFT["drift_min_texts"],
            description="fewer texts tonight or in the baseline: status too_small, no alert",
        ),
        "drift_baseline_nights": Param(
            RULE.baseline_nights,
            **DRIFT["drift_baseline_nights"],
            description="baseline: this many latest nights of the same classifier, pooled",
        ),
        "drift_baseline_from": Param(
            None,
            **DRIFT["drift_baseline_from"],
            description="baseline: pinned first night, any classifier (with or without "
            "drift_baseline_to)",
        ),
        "drift_baseline_to": Param(
            None, **DRIFT["drift_baseline_to"], description="baseline: pinned last night"
        ),
    },
)
def explain_reviews():
    @task(multiple_outputs=True)
    @fail_fast
    def prepare() -> dict:
        from dlexplain.pipelines.explain_reviews import DriftRule, RunRequest, prepare_run

        context = get_current_context()
        params = context["params"]
        request = RunRequest.from_params(params)  # the run's settings, checked once
        DriftRule.from_params(params)  # a bad drift param fails here, before Spark starts
        day = (
            params["partition_date"]
            or (context.get("logical_date") or context["dag_run"].run_after).date().isoformat()
        )
        return prepare_run(
            day,
            dataset_template=params["dataset_path_template"],
            output_template=params["output_path_template"],
            text_column=params["text_column"],
            source=params["source_model"],
            class_to_plot=params["class_to_plot"],
            settings=SETTINGS,
            input_format=params["input_format"],
            request=request,
        ).to_json_dict()

    @task(multiple_outputs=True)
    @fail_fast
    def log_explainer(request: str) -> dict:
        from dlexplain.pipelines.explain_reviews import RunRequest, ensure_explainer

        params = get_current_context()["params"]
        return ensure_explainer(
            params["source_model"],
            RunRequest.from_json(request),
            SETTINGS,
            params["explainer_name"],
        ).to_json_dict()

    plan = prepare()
    explainer = log_explainer(plan["request"])  # nothing is logged for a run that cannot start
    batch_explain = BatchExplainOperator(
        task_id="batch_explain",
        conn_id="spark_default",
        execution_timeout=timedelta(seconds=SETTINGS.schedule.job_timeout),
        application=application_path(),
        name="dlexplain-batch-explain",
        application_args=[
            "--model-uri",
            explainer["model_uri"],
            "--input",
            plan["input"],
            "--format",
            plan["input_format"],
            "--output",
            plan["output"],
            "--text-column",
            "{{ params.text_column }}",
            "--id-column",
            "{{ params.id_column }}",
            "--max-rows",
            "{{ params.row_limit or 0 }}",
            "--request",
            plan["request"],
            "--max-failed-share",
            str(SETTINGS.run.max_failed_share),
        ],
        env_vars={
            "MLFLOW_TRACKING_URI": plan["tracking_uri"],
            "PYSPARK_PYTHON": plan["python"],
            NO_PICKLE[0]: NO_PICKLE[1],
        },
    )

    @task(outlets=[EXPLAINED_REVIEWS])
    @fail_fast
    def open_explanation_run(plan: dict, explainer: dict, *, outlet_events=None) -> list[dict]:
        from dlexplain.pipelines.explain_reviews import ExplainerRef
        from dlexplain.pipelines.explain_reviews import open_explanation_run as open_run
        from dlexplain.pipelines.partitions import PartitionPlan

        context = get_current_context()
        items = open_run(
            dag_id=context["dag"].dag_id,
            airflow_run_id=context["run_id"],
            explainer=ExplainerRef.from_json_dict(explainer),
            plan=PartitionPlan.from_json_dict(plan),
            rows_per_batch=context["params"]["rows_per_batch"],
            max_items=min(conf.getint("core", "max_map_length"), SETTINGS.run.artifact_groups),
        )
        # the night's output is now in MLflow's catalogue: say so, and with which explainer
        ref = ExplainerRef.from_json_dict(explainer)
        outlet_events[EXPLAINED_REVIEWS].extra = {
            "night": plan["ds"],
            "output": plan["output"],
            "explainer_run_id": ref.run_id,
            "exact_run_id": ref.exact_run,
            "registered_model": ref.exact_name,
        }
        return [item.to_json_dict() for item in items]

    @task
    @fail_fast
    def log_batch_artifacts(item: dict) -> dict:
        from dlexplain.pipelines.batches import BatchItem, log_batch

        class_name = get_current_context()["params"]["class_to_plot"]
        return log_batch(BatchItem.from_json_dict(item), class_name).to_json_dict()

    @task
    @fail_fast
    def measure_night(plan: dict, batches: list[dict]) -> dict:
        from dlexplain.pipelines.night_quality import measure_night as measure
        from dlexplain.pipelines.partitions import PartitionPlan

        return measure(
            dag_id=get_current_context()["dag"].dag_id,
            run_id=batches[0]["run_id"],
            plan=PartitionPlan.from_json_dict(plan),
        ).to_json_dict()

    @task(outlets=[DRIFT_ALIAS])
    @fail_fast
    def check_drift(plan: dict, batches: list[dict], *, outlet_events=None) -> dict:
        from dlexplain.pipelines.explain_reviews import DriftRule
        from dlexplain.pipelines.night_quality import check_drift as check

        context = get_current_context()
        params = context["params"]
        night = plan["ds"]
        result = check(
            dag_id=context["dag"].dag_id,
            run_id=batches[0]["run_id"],
            ds=night,
            rule=DriftRule.from_params(params),
        )
        if result.drifted:
            outlet_events[DRIFT_ALIAS].add(
                DRIFT_DETECTED,
                extra={
                    "dag_id": context["dag"].dag_id,
                    "night": night,
                    "score": result.score,
                    "threshold": result.threshold,
                    "chance_low": result.chance_low,
                    "p_value": result.p_value,
                    "alpha": result.alpha,
                    "texts": result.texts,
                    "report_url": result.report_url,
                },
            )
        return result.to_json_dict()

    batches = open_explanation_run(plan, explainer)
    batch_explain >> batches
    log_batch_artifacts.expand(item=batches)
    measure_night(plan, batches) >> check_drift(plan, batches)


explain_reviews()
