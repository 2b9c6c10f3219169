"""The SHAP explainer as an MLflow pyfunc model: typed columns in and out, no pickles.

The classifier's weights and tokenizer travel as the model artifact ``classifier``; the shap
explainer is rebuilt in ``load_context`` from them and the ``model_config``, which also holds the
explainer's identity (computed once, when the explainer is logged: :func:`explainer_identity`).
"""

from __future__ import annotations

import hashlib
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    TEMPORARILY_UNAVAILABLE,
)
from mlflow.pyfunc import PythonModel

from dlexplain.base.bounds import WorkAbandoned
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.request import Method, RunRequest
from dlexplain.explain.row import STRING, to_pandas
from dlexplain.model.identity import cache_identity, legacy_identity
from dlexplain.model.request_limits import in_scoring_server
from dlexplain.model.signature import (
    JSON_COLUMN,
    PARAM_FAITHFULNESS,
    PARAM_GRANULARITY,
    PARAM_METHOD,
    RUN_COLUMN,
    output_table,
)
from dlexplain.model.udf_nulls import fill_null_structs, in_spark_task, keep_nulls

logger = logging.getLogger(__name__)

#: model artifact key of the Hugging Face folder (weights + tokenizer)
ARTIFACT_CLASSIFIER = "classifier"
#: model artifact key of a gated fast explainer's network (``dlexplain.fast.model``), if any
ARTIFACT_FAST = "fast"
#: model_config keys
CONFIG_EXPLAINER = "explainer"
CONFIG_TEXT_COLUMN = "text_column"
CONFIG_RUN_ID = "run_id"
CONFIG_IDENTITY = "identity"
ENTRY_FILE = "pyfunc_entry.py"

#: A short text: the input example and the warm-up's.
INPUT_TEXT = "What a wonderful, moving film."
#: Distributions the logged model pins (at the versions installed from requirements.lock).
PINNED_DISTRIBUTIONS = (
    "mlflow",
    "shap",
    "transformers",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "matplotlib",
    "tqdm",
    "pysbd",
)


def pinned_requirements() -> list[str]:
    """``name==version`` for the model's runtime dependencies, as installed (local tags dropped)."""
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in PINNED_DISTRIBUTIONS]


class ExplainerModel(PythonModel):
    """pyfunc wrapper: ``predict`` adapts a DataFrame to the engine and back.

    Texts this explainer already explained come from the explanation cache (``Settings``); the
    classifier is loaded on the first text that is not there, so an all-cached request never
    loads the model.
    """

    def load_context(self, context) -> None:
        from transformers import AutoConfig

        from dlexplain.config import Settings
        from dlexplain.explain.cache import open_cache
        from dlexplain.explain.classifier import class_labels
        from dlexplain.model.request_limits import RequestLimits

        config = context.model_config or {}
        self._config = ExplainerConfig(**config.get(CONFIG_EXPLAINER, {}))
        self._classifier_dir = context.artifacts[ARTIFACT_CLASSIFIER]
        self._fast_dir = context.artifacts.get(ARTIFACT_FAST)
        self._fast = None
        #: the methods it answers, the default last
        self.methods = (
            (Method.EXACT.value, Method.FAST_VERIFY.value, Method.FAST.value)
            if self._fast_dir
            else (Method.EXACT.value,)
        )
        self._text_column = config.get(CONFIG_TEXT_COLUMN, "text")
        self._run_id = config.get(CONFIG_RUN_ID)
        self._explainer = None
        self._output_names = class_labels(
            AutoConfig.from_pretrained(self._classifier_dir, trust_remote_code=False)
        )
        #: keys the explanation cache: the identity written at log time, with the digest of the
        #: weights loaded here (an identity copied into another model's config never reaches
        #: what is cached under it); 0.1 explainers: computed here
        logged = config.get(CONFIG_IDENTITY)
        self.identity = (
            cache_identity(logged, self._classifier_dir)
            if logged
            else legacy_identity(self._classifier_dir, self._config)
        )
        settings = Settings.from_env()  # this process's environment: device, cache, limits
        self._device = settings.run.device
        if self._config.backend == "auto":  # the cache keys what this machine computes
            from dlexplain.explain.classifier import resolve_device
            from dlexplain.explain.numerics import auto_backend

            chosen = auto_backend(resolve_device(self._device))
            self.identity = hashlib.sha256(f"{self.identity}:{chosen}".encode()).hexdigest()
        self._cache = (
            open_cache(settings.cache.path, settings.cache.mb << 20)
            if settings.cache.enabled
            else None
        )
        #: explanations served from the cache, over this model's life
        self.cache_hits = 0
        self._limits = RequestLimits.from_settings(settings)
        self._tokenizer: Any = None  #: loaded by the first request's work check

    @property
    def evaluations(self) -> int:
        """Model evaluations (masked texts forwarded) over this model's life."""
        return self._explainer.classifier.evaluations if self._explainer is not None else 0

    def _engine(self):
        """The explainer, its classifier loaded on first use."""
        if self._explainer is None:
            from dlexplain.explain.classifier import TextClassifier
            from dlexplain.explain.engine import Explainer

            classifier = TextClassifier.from_pretrained(
                self._classifier_dir,
                device=self._device,
                batch_size=self._config.batch_size,
                backend=self._config.backend,
            )
            self._explainer = Explainer(classifier, self._config)
        return self._explainer

    def warm_up(self) -> None:
        """Load the classifier (and the fast network) and run one forward pass, so that the first
        request does not pay for loading (nothing is cached or counted as an evaluation)."""
        classifier = self._engine().classifier
        classifier.predict_proba([INPUT_TEXT])
        classifier.evaluations = 0
        if self._fast_dir:
            self._fast_engine()

    def _fast_engine(self):
        """The fast explainer (same classifier as the exact one), loaded on first use."""
        if self._fast is None:
            from dlexplain.fast.explainer import FastExplainer
            from dlexplain.fast.model import AmortizedModel

            engine = self._engine()
            self._fast = FastExplainer(
                engine.classifier,
                AmortizedModel.load(Path(self._fast_dir)),
                max_tokens=self._config.max_tokens,
                masking=engine.config.masking,
            )
        return self._fast

    def _explain(self, texts: list, granularity: str = "token") -> list:
        from dlexplain.explain.inputs import clean_text
        from dlexplain.explain.row import TextExplanation

        if self._explainer is None:
            errors = [error for _, error in map(clean_text, texts) if error is not None]
            if len(errors) == len(texts):  # nothing to explain: no model needed
                return [TextExplanation.failed(error, self._output_names) for error in errors]
        return self._engine().explain(texts, granularity=granularity)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        """One row of typed explanation columns per input row, in input order.

        Inside MLflow's scoring server, requests over the limits (``Settings.serve.max_*``) are
        refused with 400 and a failure answers 500 with a message only, never a traceback.
        """
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if self._text_column not in frame.columns:
            raise MlflowException(
                f"input has no text column {self._text_column!r}; columns: {list(frame.columns)}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        texts = frame[self._text_column].tolist()
        request = self._request(params or {})
        if not in_scoring_server():
            return self._predict(texts, request)
        problem = self._limits.problem(texts) or self._work_problem(texts, request)
        if problem:
            raise MlflowException(problem, error_code=INVALID_PARAMETER_VALUE)
        try:
            return self._predict(texts, request)
        except WorkAbandoned as err:  # its client has gone or had its 504: nobody reads this
            logger.warning("explaining %d texts: %s", len(texts), err)
            raise MlflowException(str(err), error_code=TEMPORARILY_UNAVAILABLE) from None
        except Exception as err:
            logger.exception("explaining %d texts failed", len(texts))
            raise MlflowException(
                f"explaining failed: {type(err).__name__}: {err}", error_code=INTERNAL_ERROR
            ) from None

    def _request(self, params: dict) -> RunRequest:
        """The request of ``params`` (a ``RunRequest``: the rules of every door), and one this
        explainer answers; MlflowException (400) saying why not."""
        from dlexplain.errors import ConfigError

        method = params.get(PARAM_METHOD) or self.methods[-1]
        try:
            RunRequest(method=method)  # the method first: is it one this explainer answers?
            if method not in self.methods:
                problem = f"method {method!r} is not one this explainer answers: "
                problem += f"{list(self.methods)}"
                if not self._fast_dir:
                    problem += " (it has no gated fast explainer)"
                raise ConfigError(problem)
            return RunRequest(
                method=method,
                granularity=params.get(PARAM_GRANULARITY) or "token",
                faithfulness=bool(params.get(PARAM_FAITHFULNESS, False)),
            )
        except ConfigError as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None

    def _work_problem(self, texts: list, request: RunRequest) -> str | None:
        """Why the request is more work than one request may cost (``RequestLimits.max_work``):
        its tokens (as the engine truncates them) times the model evaluations of each."""
        from dlexplain.model.request_limits import FAITHFULNESS_EVALS, VERIFY_EVALS

        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(
                self._classifier_dir, trust_remote_code=False
            )
        limit = self._config.max_tokens or self._tokenizer.model_max_length
        strings = [t for t in texts if isinstance(t, str)]
        counts = self._tokenizer(strings, add_special_tokens=False)["input_ids"] if strings else []
        evaluations = {  # at worst: fast+verify may explain every text exactly too
            Method.EXACT: self._config.max_evals,
            Method.FAST: 1,
            Method.FAST_VERIFY: 1 + VERIFY_EVALS + self._config.max_evals,
        }[Method(request.method)] + (FAITHFULNESS_EVALS if request.faithfulness else 0)
        return self._limits.work_problem([min(len(ids), limit) for ids in counts], evaluations)

    def _predict(self, texts: list, request: RunRequest) -> pd.DataFrame:
        """Explanations (exact ones from the cache when there, keyed by granularity too), with
        faithfulness when asked: it is computed afresh each time, so the cache holds exact
        explanations only."""
        from dlexplain.explain.cache import explain_cached

        granularity = request.granularity

        def exact(todo: list) -> list:
            identity = (
                self.identity
                if granularity == "token"
                else hashlib.sha256(f"{self.identity}:{granularity}".encode()).hexdigest()
            )
            found, hits = explain_cached(
                todo, lambda rest: self._explain(rest, granularity), self._cache, identity
            )
            self.cache_hits += hits
            return found

        if request.method == Method.EXACT:
            results = exact(texts)
        else:
            results = self._fast_engine().explain(texts, granularity=granularity)
        if request.method == Method.FAST_VERIFY:
            from dlexplain.fast.verify import verify

            predict = self._engine().classifier.predict_proba
            results = verify(texts, results, predict, exact).rows
        if request.faithfulness and any(r.ok for r in results):
            from dlexplain.quality.faithfulness import with_faithfulness as add

            results = add(results, self._engine().classifier.predict_proba)
        out = to_pandas(results)
        out.insert(0, JSON_COLUMN[0], [r.to_json() for r in results])
        out[RUN_COLUMN[0]] = self._run_id
        # mlflow.pyfunc.spark_udf: null strings become "None", null structs fail
        if in_spark_task():
            keep_nulls(
                out,
                [
                    name
                    for name, kind, required in output_table()
                    if kind is STRING and not required
                ],
            )
            fill_null_structs(
                out, {name: kind.members for name, kind, _ in output_table() if kind.members}
            )
        return out
