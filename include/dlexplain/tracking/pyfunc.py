"""The SHAP explainer as an MLflow pyfunc model: typed columns in and out, no pickles.

The classifier's weights and tokenizer travel as the model artifact ``classifier``; the shap
explainer is rebuilt in ``load_context`` from them and the ``model_config``, which also holds the
explainer's identity (computed once, when the explainer is logged: :func:`explainer_identity`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import (INTERNAL_ERROR, INVALID_PARAMETER_VALUE,
                                         TEMPORARILY_UNAVAILABLE)
from mlflow.types.schema import Array, ColSpec, Object, ParamSchema, ParamSpec, Property, Schema

from dlexplain.base.bounds import WorkAbandoned
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.row import COLUMNS, STRING, Kind, to_pandas
from dlexplain.tracking.request_limits import in_scoring_server
from dlexplain.tracking.udf_nulls import fill_null_structs, in_spark_task, keep_nulls

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
#: The package an explainer is logged with (its ``code_paths``), and the file in it logged as
#: the model's code (models-from-code); ``dlexplain.tracking.trust`` compares both with a model's.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
ENTRY_FILE = "pyfunc_entry.py"

#: Output columns besides the explanation's, (name, kind, required): its JSON form comes FIRST,
#: because ``mlflow.pyfunc.spark_udf(..., result_type=StringType())`` returns the leftmost
#: column (the book chapter's call), and which explainer answered comes last.
JSON_COLUMN = ("explanation_json", STRING, True)
RUN_COLUMN = ("explainer_run_id", STRING, False)
#: predict param: also compute each row's faithfulness (``dlexplain.quality.faithfulness``, about
#: 20 more forward passes per text); off unless a request asks for it.
PARAM_FAITHFULNESS = "faithfulness"
#: predict param: "exact" (shap's Partition explainer) or "fast" (the amortized network); an
#: explainer logged with a fast network answers fast unless asked, one without it only exact.
PARAM_METHOD = "method"
METHODS = ("exact", "fast")
#: predict param: the unit of each row's values, ``token`` (default), ``word``, ``sentence`` or
#: ``paragraph`` (``dlexplain.explain.units``; the fast method answers token and word)
PARAM_GRANULARITY = "granularity"
#: A short text: the input example and the warm-up's.
INPUT_TEXT = "What a wonderful, moving film."
#: Distributions the logged model pins (at the versions installed from requirements.lock).
PINNED_DISTRIBUTIONS = ("mlflow", "shap", "transformers", "torch", "numpy", "pandas", "pyarrow",
                        "matplotlib", "tqdm", "pysbd")


def package_files(folder: Path) -> dict[str, bytes]:
    """The ``.py`` files of a package folder by relative path (``__pycache__`` skipped)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in folder.rglob("*.py")
            if path.is_file() and "__pycache__" not in path.relative_to(folder).parts}


@functools.lru_cache(maxsize=1)
def code_digest(folder: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the ``.py`` files of a package folder (relative path and bytes)."""
    digest = hashlib.sha256()
    for name, data in sorted(package_files(folder).items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def explainer_identity(source_key: str, config: ExplainerConfig, text_column: str) -> str:
    """What makes two explainers give the same values: the classifier's weights (by
    ``SourceModel.key``), the settings that change values, the input column, the package
    version and its code (an explainer logged by other code is never reused: the trust check
    would refuse it). Keys the registry's idempotency and the explanation cache alike."""
    payload = {"source": source_key, "engine": config.fingerprint(), "text_column": text_column,
               "dlexplain": metadata.version("dlexplain"), "code": code_digest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _cache_identity(identity: str, classifier_dir: str) -> str:
    """The explanation cache's key of an explainer: its logged identity and the content digest
    of the classifier folder it loads."""
    from dlexplain.tracking.sources import folder_digest

    digest = folder_digest(Path(classifier_dir))
    return hashlib.sha256(f"{identity}:{digest}".encode()).hexdigest()


def _legacy_identity(classifier_dir: str, config: ExplainerConfig) -> str:
    """The identity explainers logged by dlexplain 0.1 computed at every load (no identity in
    their model_config): kept so their cached explanations are still found."""
    from dlexplain.tracking.sources import folder_digest

    seed = f"{folder_digest(Path(classifier_dir))}:{config.fingerprint()}"
    return hashlib.sha256(seed.encode()).hexdigest()


def _output_table() -> list[tuple[str, Kind, bool]]:
    """(name, kind, required) of every output column, in order."""
    explanation = [(f.name, f.metadata["kind"], f.metadata["required"]) for f in COLUMNS]
    return [JSON_COLUMN, *explanation, RUN_COLUMN]


def output_columns() -> list[str]:
    """The pyfunc's output columns: the JSON form, the explanation's columns, the run id."""
    return [name for name, _, _ in _output_table()]


def output_arrow_type():
    """Arrow struct of one output row (the Spark UDF's result type is derived from it)."""
    import pyarrow as pa

    return pa.struct([pa.field(name, kind.arrow_type()) for name, kind, _ in _output_table()])


def _mlflow_type(kind: Kind):
    """The MLflow type of a column kind (``double[][]`` → ``Array(Array("double"))``, a struct
    → an ``Object`` of optional doubles)."""
    if kind.mlflow == "object":
        return Object([Property(name, "double", required=False) for name in kind.members])
    result = kind.mlflow.replace("[]", "")
    for _ in range(kind.mlflow.count("[]")):
        result = Array(result)
    return result


def explainer_signature(text_column: str = "text", fast: bool = False) -> ModelSignature:
    """Input: one string column; output: the typed explanation columns and the extras;
    params: ``faithfulness`` (bool, default false), ``method`` (default "fast" for an
    explainer with a fast network, else "exact") and ``granularity`` (default "token")."""
    outputs = [ColSpec(_mlflow_type(kind), name, required=required)
               for name, kind, required in _output_table()]
    params = [ParamSpec(PARAM_FAITHFULNESS, "boolean", False),
              ParamSpec(PARAM_METHOD, "string", "fast" if fast else "exact"),
              ParamSpec(PARAM_GRANULARITY, "string", "token")]
    return ModelSignature(inputs=Schema([ColSpec("string", text_column)]), outputs=Schema(outputs),
                          params=ParamSchema(params))


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
        from transformers import AutoConfig

        from dlexplain.config import Settings
        from dlexplain.explain.cache import open_cache
        from dlexplain.explain.classifier import class_labels
        from dlexplain.tracking.request_limits import RequestLimits

        config = context.model_config or {}
        self._config = ExplainerConfig(**config.get(CONFIG_EXPLAINER, {}))
        self._classifier_dir = context.artifacts[ARTIFACT_CLASSIFIER]
        self._fast_dir = context.artifacts.get(ARTIFACT_FAST)
        self._fast = None
        self.methods = METHODS if self._fast_dir else ("exact",)
        self._text_column = config.get(CONFIG_TEXT_COLUMN, "text")
        self._run_id = config.get(CONFIG_RUN_ID)
        self._explainer = None
        self._output_names = class_labels(AutoConfig.from_pretrained(self._classifier_dir,
                                                                      trust_remote_code=False))
        #: keys the explanation cache: the identity written at log time, with the digest of the
        #: weights loaded here (an identity copied into another model's config never reaches
        #: what is cached under it); 0.1 explainers: computed here
        logged = config.get(CONFIG_IDENTITY)
        self.identity = (_cache_identity(logged, self._classifier_dir) if logged
                         else _legacy_identity(self._classifier_dir, self._config))
        settings = Settings.from_env()  # this process's environment: device, cache, limits
        self._device = settings.run.device
        if self._config.backend == "auto":  # the cache keys what this machine computes
            from dlexplain.explain.classifier import resolve_device
            from dlexplain.explain.numerics import auto_backend

            chosen = auto_backend(resolve_device(self._device))
            self.identity = hashlib.sha256(f"{self.identity}:{chosen}".encode()).hexdigest()
        self._cache = (open_cache(settings.cache.path,
                                  settings.cache.mb << 20)
                       if settings.cache.enabled else None)
        #: explanations served from the cache, over this model's life
        self.cache_hits = 0
        self._limits = RequestLimits.from_settings(settings)
        self._tokenizer = None  #: loaded by the first request's work check

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
                self._classifier_dir, device=self._device, batch_size=self._config.batch_size,
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
            self._fast = FastExplainer(engine.classifier, AmortizedModel.load(Path(self._fast_dir)),
                                       max_tokens=self._config.max_tokens,
                                       masking=engine.config.masking)
        return self._fast

    def _explain(self, texts: list, granularity: str = "token") -> list:
        from dlexplain.explain.engine import clean_text
        from dlexplain.explain.row import TextExplanation

        if self._explainer is None:
            checked = [clean_text(t) for t in texts]
            if all(text is None for text, _ in checked):  # nothing to explain: no model needed
                return [TextExplanation.failed(error, self._output_names) for _, error in checked]
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
        with_faithfulness = bool((params or {}).get(PARAM_FAITHFULNESS, False))
        method = (params or {}).get(PARAM_METHOD) or self.methods[-1]
        granularity = (params or {}).get(PARAM_GRANULARITY) or "token"
        problem = self._params_problem(method, granularity)
        if problem:
            raise MlflowException(problem, error_code=INVALID_PARAMETER_VALUE)
        if not in_scoring_server():
            return self._predict(texts, with_faithfulness, method, granularity)
        problem = self._limits.problem(texts) or self._work_problem(texts, with_faithfulness,
                                                                     method)
        if problem:
            raise MlflowException(problem, error_code=INVALID_PARAMETER_VALUE)
        try:
            return self._predict(texts, with_faithfulness, method, granularity)
        except WorkAbandoned as err:  # its client has gone or had its 504: nobody reads this
            logger.warning("explaining %d texts: %s", len(texts), err)
            raise MlflowException(str(err), error_code=TEMPORARILY_UNAVAILABLE) from None
        except Exception as err:
            logger.exception("explaining %d texts failed", len(texts))
            raise MlflowException(f"explaining failed: {type(err).__name__}: {err}",
                                  error_code=INTERNAL_ERROR) from None

    def _params_problem(self, method: str, granularity: str) -> str | None:
        """Why ``method`` and ``granularity`` are no request to this explainer, or None."""
        from dlexplain.errors import ConfigError
        from dlexplain.explain.config import check_granularity

        if method not in self.methods:
            return (f"method {method!r} is not one this explainer answers: {list(self.methods)}"
                    + ("" if self._fast_dir else " (it has no gated fast explainer)"))
        try:
            check_granularity(granularity, method)
        except ConfigError as err:
            return str(err)
        return None

    def _work_problem(self, texts: list, with_faithfulness: bool, method: str) -> str | None:
        """Why the request is more work than one request may cost (``RequestLimits.max_work``):
        its tokens (as the engine truncates them) times the model evaluations of each."""
        from dlexplain.tracking.request_limits import FAITHFULNESS_EVALS

        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self._classifier_dir,
                                                            trust_remote_code=False)
        limit = self._config.max_tokens or self._tokenizer.model_max_length
        strings = [t for t in texts if isinstance(t, str)]
        counts = self._tokenizer(strings, add_special_tokens=False)["input_ids"] if strings else []
        evaluations = (self._config.max_evals if method == "exact" else 1) + (
            FAITHFULNESS_EVALS if with_faithfulness else 0)
        return self._limits.work_problem([min(len(ids), limit) for ids in counts], evaluations)

    def _predict(self, texts: list, with_faithfulness: bool = False,
                 method: str = "exact", granularity: str = "token") -> pd.DataFrame:
        """Explanations (exact ones from the cache when there, keyed by granularity too), with
        faithfulness when asked: it is computed afresh each time, so the cache holds exact
        explanations only."""
        from dlexplain.explain.cache import explain_cached

        if method == "fast":
            results = self._fast_engine().explain(texts, granularity=granularity)
        else:
            identity = (self.identity if granularity == "token" else
                        hashlib.sha256(f"{self.identity}:{granularity}".encode()).hexdigest())
            results, hits = explain_cached(
                texts, lambda todo: self._explain(todo, granularity), self._cache, identity)
            self.cache_hits += hits
        if with_faithfulness and any(r.ok for r in results):
            from dlexplain.quality.faithfulness import with_faithfulness as add

            results = add(results, self._engine().classifier.predict_proba)
        out = to_pandas(results)
        out.insert(0, JSON_COLUMN[0], [r.to_json() for r in results])
        out[RUN_COLUMN[0]] = self._run_id
        if in_spark_task():  # mlflow.pyfunc.spark_udf: null strings become "None", null structs fail
            keep_nulls(out, [name for name, kind, required in _output_table()
                             if kind is STRING and not required])
            fill_null_structs(out, {name: kind.members for name, kind, _ in _output_table()
                                    if kind.members})
        return out
