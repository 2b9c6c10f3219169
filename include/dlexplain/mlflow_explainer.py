"""The SHAP explainer as an MLflow pyfunc model: typed columns in and out, no pickles.

The classifier's weights and tokenizer travel as the model artifact ``classifier``; the shap
explainer is rebuilt in ``load_context`` from them and the ``model_config``.
"""

from __future__ import annotations

import logging
from importlib import metadata

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import Array, ColSpec, Schema

from dlexplain.schema import field_names, to_pandas

logger = logging.getLogger(__name__)

#: model artifact key of the Hugging Face folder (weights + tokenizer)
ARTIFACT_CLASSIFIER = "classifier"
#: model_config keys
CONFIG_EXPLAINER = "explainer"
CONFIG_TEXT_COLUMN = "text_column"
CONFIG_RUN_ID = "run_id"
CONFIG_DEVICE = "device"

#: Columns added to the explanation fields: the JSON form, and which explainer answered.
EXTRA_COLUMNS = ("explanation_json", "explainer_run_id")
#: Distributions the logged model pins (at the versions installed from requirements.lock).
PINNED_DISTRIBUTIONS = ("mlflow", "shap", "transformers", "torch", "numpy", "pandas", "pyarrow",
                        "matplotlib", "tqdm")


def output_columns() -> list[str]:
    return [*field_names(), *EXTRA_COLUMNS]


def _output_types() -> dict[str, tuple[object, bool]]:
    """MLflow type and ``required`` flag of each output column."""
    strings, doubles = Array("string"), Array("double")
    return {
        "label": ("string", False), "score": ("double", False), "tokens": (strings, True),
        "values": (Array(doubles), True), "base_values": (doubles, True),
        "probabilities": (doubles, True), "output_names": (strings, True),
        "additivity_error": ("double", False), "truncated": ("boolean", True),
        "error": ("string", False), "explanation_json": ("string", True),
        "explainer_run_id": ("string", False),
    }


def explainer_signature(text_column: str = "text") -> ModelSignature:
    """Input: one string column; output: the typed explanation columns."""
    types = _output_types()
    outputs = Schema([ColSpec(types[name][0], name, required=types[name][1])
                      for name in output_columns()])
    return ModelSignature(inputs=Schema([ColSpec("string", text_column)]), outputs=outputs)


def pinned_requirements() -> list[str]:
    """``name==version`` for the model's runtime dependencies, as installed (local tags dropped)."""
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in PINNED_DISTRIBUTIONS]


class ExplainerModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict`` adapts a DataFrame to the engine and back."""

    def load_context(self, context) -> None:
        from dlexplain.classifier import TextClassifier
        from dlexplain.engine import Explainer, ExplainerConfig

        config = context.model_config or {}
        explainer_config = ExplainerConfig(**config.get(CONFIG_EXPLAINER, {}))
        classifier = TextClassifier.from_pretrained(
            context.artifacts[ARTIFACT_CLASSIFIER], device=config.get(CONFIG_DEVICE, "auto"),
            batch_size=explainer_config.batch_size,
        )
        self._explainer = Explainer(classifier, explainer_config)
        self._text_column = config.get(CONFIG_TEXT_COLUMN, "text")
        self._run_id = config.get(CONFIG_RUN_ID)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        """One row of typed explanation columns per input row, in input order."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if self._text_column not in frame.columns:
            raise MlflowException(
                f"input has no text column {self._text_column!r}; columns: {list(frame.columns)}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        results = self._explainer.explain(frame[self._text_column].tolist())
        out = to_pandas(results)
        out["explanation_json"] = [r.to_json() for r in results]
        out["explainer_run_id"] = self._run_id
        return out
