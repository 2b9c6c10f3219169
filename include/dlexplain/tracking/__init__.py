"""MLflow: the explainer as a pyfunc model, its registry, artifacts, sources and local server.

``pyfunc`` (the model class, its output columns and identity) and ``pyfunc_entry`` (the
models-from-code file), ``registry`` (log explainers idempotently, register models, aliases),
``runs`` (experiments and tagged runs), ``filters`` (quoted search filters), ``sources``
(source models by key, downloaded only when needed), ``artifacts`` (per-batch plots and arrays),
``request_limits`` (what one scoring-server request may ask), ``report`` (links after a DAG run),
``server`` (a local tracking server by PID).
"""
