"""Explaining texts: the engine, the classifier adapter, the explanation row, the cache.

``config`` (settings and their validation), ``classifier`` (texts → probabilities, batched),
``cls_forward`` (a cheaper exact last layer for BERT), ``lockstep`` (shap loops sharing forward
passes), ``engine`` (texts → explanations), ``row`` (the explanation row and its forms),
``table`` (a table in, the same table plus an ``explanation`` column out), ``cache``.
Imports nothing of tracking, serving, Spark or Airflow.
"""
