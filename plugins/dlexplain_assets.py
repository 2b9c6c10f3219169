"""The Airflow Assets dlexplain DAGs produce, defined once for producers and consumers.

- ``EXPLAINED_REVIEWS``: updated once a night's explanations are written and catalogued in MLflow
  (``open_explanation_run``), with ``extra`` = night, output, exact explainer run and its
  registered name; ``train_fast_explainer`` runs on it.
- ``DRIFT_DETECTED``: an event each night whose explanations drifted from their baseline
  (``check_drift``: below the threshold and below chance), with ``extra`` = night, score,
  threshold, chance band (``chance_low``, ``alpha``), ``p_value``, texts, report URL.
  ``check_drift`` emits
  it through ``DRIFT_ALIAS`` (an ``AssetAlias`` lets a task decide at run time whether to emit),
  so a stable night emits nothing and any DAG scheduled on ``DRIFT_DETECTED`` is an alert.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

EXPLAINED_REVIEWS = Asset(
    name="dlexplain_explained_reviews", uri="file:///dlexplain/explanations/reviews"
)
DRIFT_DETECTED = Asset(
    name="dlexplain_drift_detected", uri="file:///dlexplain/explanations/reviews/drift"
)
DRIFT_ALIAS = AssetAlias("dlexplain_drift")
