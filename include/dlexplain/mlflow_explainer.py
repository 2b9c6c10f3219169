"""The SHAP explainer as an MLflow pyfunc model: typed columns in and out, no pickles.

The classifier's weights and tokenizer travel as the model artifact ``classifier``; the shap
explainer is rebuilt in ``load_context`` from them and the ``model_config``.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.types.schema import Array, ColSpec, Schema

from dlexplain.schema import field_names, to_pandas
from dlexplain.serving.limits import in_scoring_server

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
    """pyfunc wrapper: ``predict`` adapts a DataFrame to the engine and back.

    Texts this explainer already explained come from the explanation cache (``Settings``); the
    classifier is loaded on the first text that is not there, so an all-cached request never
    loads the model.
    """

    def load_context(self, context) -> None:
        import hashlib

        from transformers import AutoConfig

        from dlexplain.cache import ExplanationCache
        from dlexplain.classifier import class_labels
        from dlexplain.config import Settings
        from dlexplain.engine import ExplainerConfig
        from dlexplain.serving.limits import RequestLimits
        from dlexplain.sources import folder_digest

        config = context.model_config or {}
        self._config = ExplainerConfig(**config.get(CONFIG_EXPLAINER, {}))
        self._classifier_dir = context.artifacts[ARTIFACT_CLASSIFIER]
        self._device = config.get(CONFIG_DEVICE, "auto")
        self._text_column = config.get(CONFIG_TEXT_COLUMN, "text")
        self._run_id = config.get(CONFIG_RUN_ID)
        self._explainer = None
        self._output_names = class_labels(AutoConfig.from_pretrained(self._classifier_dir))
        seed = f"{folder_digest(Path(self._classifier_dir))}:{self._config.fingerprint()}"
        #: what makes two explainers give the same values: classifier content and settings
        self.identity = hashlib.sha256(seed.encode()).hexdigest()
        settings = Settings.from_env()
        self._cache = (ExplanationCache(settings.explanation_cache_path,
                                        settings.explanation_cache_mb << 20)
                       if settings.explanation_cache else None)
        #: explanations served from the cache, over this model's life
        self.cache_hits = 0
        self._limits = RequestLimits(settings.serve_max_texts, settings.serve_max_chars)

    @property
    def evaluations(self) -> int:
        """Model evaluations (masked texts forwarded) over this model's life."""
        return self._explainer.classifier.evaluations if self._explainer is not None else 0

    def _explain(self, texts: list) -> list:
        from dlexplain.engine import clean_text
        from dlexplain.schema import TextExplanation

        if self._explainer is None:
            checked = [clean_text(t) for t in texts]
            if all(text is None for text, _ in checked):  # nothing to explain: no model needed
                return [TextExplanation.failed(error, self._output_names) for _, error in checked]
            from dlexplain.classifier import TextClassifier
            from dlexplain.engine import Explainer

            classifier = TextClassifier.from_pretrained(
                self._classifier_dir, device=self._device, batch_size=self._config.batch_size,
                backend=self._config.backend,
            )
            self._explainer = Explainer(classifier, self._config)
        return self._explainer.explain(texts)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        """One row of typed explanation columns per input row, in input order.

        Inside MLflow's scoring server, requests over the limits (``Settings.serve_max_*``) are
        refused with 400 and a failure answers 500 with a message only, never a traceback.
        """
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if self._text_column not in frame.columns:
            raise MlflowException(
                f"input has no text column {self._text_column!r}; columns: {list(frame.columns)}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        texts = frame[self._text_column].tolist()
        if not in_scoring_server():
            return self._predict(texts)
        problem = self._limits.problem(texts)
        if problem:
            raise MlflowException(problem, error_code=INVALID_PARAMETER_VALUE)
        try:
            return self._predict(texts)
        except Exception as err:
            logger.exception("explaining %d texts failed", len(texts))
            raise MlflowException(f"explaining failed: {type(err).__name__}: {err}",
                                  error_code=INTERNAL_ERROR) from None

    def _predict(self, texts: list) -> pd.DataFrame:
        from dlexplain.cache import explain_cached

        results, hits = explain_cached(texts, self._explain, self._cache, self.identity)
        self.cache_hits += hits
        out = to_pandas(results)
        out["explanation_json"] = [r.to_json() for r in results]
        out["explainer_run_id"] = self._run_id
        return out
