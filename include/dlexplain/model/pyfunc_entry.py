"""MLflow models-from-code entry point: the explainer is defined by code, never pickled.

``log_explainer`` passes this file as ``python_model``; MLflow stores the file itself and, at load
time, runs it to obtain the model object.
"""

import mlflow

from dlexplain.model.pyfunc import ExplainerModel

mlflow.models.set_model(ExplainerModel())
