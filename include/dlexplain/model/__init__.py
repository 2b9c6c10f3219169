"""The explainer as an MLflow model (its flavor): how it is logged, checked and loaded.

``pyfunc`` (the model class, its output columns and identity) and ``pyfunc_entry`` (the
models-from-code file), ``registry`` (log explainers idempotently, register models, aliases),
``source_model`` (the classifier a run names, registered), ``trust`` (a downloaded explainer is
checked before anything in it runs), ``fast_runs`` (the fast explainer logged and gated),
``request_limits`` (what one scoring-server request may ask), ``udf_nulls`` (the chapter's
``spark_udf`` call on rows with nulls).
"""
