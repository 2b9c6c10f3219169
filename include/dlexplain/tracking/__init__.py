"""MLflow tracking: runs, artifacts, quality runs, sources and the local server.

``runs`` (experiments, tagged runs, the explanation run's tags), ``filters`` (quoted search
filters), ``provenance`` (is a run the pipeline's), ``sources`` (source models by key, downloaded
only when needed), ``artifacts`` (per-batch plots and arrays), ``quality_runs`` (night and trend
metrics, importance, drift reports), ``report`` (links after a DAG run), ``users`` (the stack's
MLflow users), ``server`` (a local tracking server by PID). The explainer as an MLflow model is
``dlexplain.model``.
"""
