"""Is an explanation faithful, and is what drives the model changing?

``faithfulness``: ERASER comprehensiveness and sufficiency (AOPC) of each explanation against a
seeded random ranking; ``importance``: global token importance of a night; ``drift``: nDCG of
tonight's ranking against a baseline of earlier nights; ``report``: the HTML a person reads.
Nothing here talks to MLflow or Airflow (``dlexplain.tracking.quality_runs`` logs the results).
"""
