"""The explanation engine: shap's Partition explainer over a batched text classifier."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import unicodedata
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from dlexplain.classifier import TextClassifier
from dlexplain.errors import ConfigError
from dlexplain.schema import TextExplanation

logger = logging.getLogger(__name__)

_KEEP_CONTROL = {"\t", "\n", "\r"}


@dataclass(frozen=True)
class ExplainerConfig:
    """Knobs of an explanation; its ``fingerprint`` identifies explainers with equal settings."""

    max_evals: int = 500
    batch_size: int = 64
    #: Tokens kept per text (without special tokens); None → the model's limit.
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_evals", "batch_size", "max_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"ExplainerConfig.{name}={value!r} must be a positive integer")
        if self.max_evals < 2:
            raise ConfigError(f"ExplainerConfig.max_evals={self.max_evals!r} must be >= 2")

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        """Stable short hash of the settings that change explanation values."""
        relevant = {"max_evals": self.max_evals, "max_tokens": self.max_tokens}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Prepared:
    text: str | None
    truncated: bool = False
    error: str | None = None


class Explainer:
    """Explains texts with SHAP values per token and class. ``explain`` never drops a row."""

    def __init__(self, classifier: TextClassifier, config: ExplainerConfig | None = None) -> None:
        import shap

        self.classifier = classifier
        self.config = config or ExplainerConfig()
        classifier.batch_size = self.config.batch_size
        limit = classifier.max_length - classifier.num_special_tokens
        self.max_tokens = min(self.config.max_tokens or limit, limit)
        masker = shap.maskers.Text(classifier.tokenizer)
        self._shap = shap.PartitionExplainer(
            classifier, masker, output_names=list(classifier.labels)
        )

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(self, texts: Sequence[object], *, progress: bool = False) -> list[TextExplanation]:
        """One explanation per input, in input order; bad inputs come back with ``error`` set."""
        from tqdm.auto import tqdm

        prepared = [self._prepare(raw) for raw in texts]
        good = [p.text for p in prepared if p.error is None]
        probabilities = iter(self.classifier.predict_proba(good) if good else [])
        results = []
        for item in tqdm(prepared, desc="explaining", unit="text", disable=not progress):
            if item.error is not None:
                results.append(TextExplanation.failed(item.error, self.output_names))
            else:
                results.append(self._explain_one(item, next(probabilities)))
        failed = sum(not r.ok for r in results)
        logger.info("explained %d texts (%d with errors)", len(results), failed)
        return results

    def _explain_one(self, item: _Prepared, probabilities: np.ndarray) -> TextExplanation:
        try:
            shap_values = self._shap(
                [item.text], max_evals=self.config.max_evals,
                batch_size=self.config.batch_size, silent=True,
            )
        except Exception as err:  # one failing row must not take the batch down
            logger.warning("explaining a text failed", exc_info=True)
            return TextExplanation.failed(
                f"explanation failed: {type(err).__name__}: {err}", self.output_names
            )
        values = np.asarray(shap_values.values[0], dtype=np.float64)
        base = np.asarray(shap_values.base_values[0], dtype=np.float64)
        additivity = float(np.max(np.abs(base + values.sum(axis=0) - probabilities)))
        best = int(np.argmax(probabilities))
        return TextExplanation(
            tokens=tuple(str(t) for t in shap_values.data[0]),
            values=values,
            base_values=base,
            probabilities=probabilities,
            output_names=self.output_names,
            label=self.output_names[best],
            score=float(probabilities[best]),
            additivity_error=additivity,
            truncated=item.truncated,
        )

    def _prepare(self, raw: object) -> _Prepared:
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return _Prepared(None, error="text is missing (None/NaN)")
        if not isinstance(raw, str):
            return _Prepared(None, error=f"text must be a string, got {type(raw).__name__}")
        text = "".join(
            " " if unicodedata.category(c) == "Cc" and c not in _KEEP_CONTROL else c for c in raw
        ).strip()
        if not text:
            return _Prepared(None, error="text is empty or whitespace only")
        encoded = self.classifier.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
            verbose=False,
        )
        offsets = encoded["offset_mapping"]
        if not offsets:
            return _Prepared(None, error="text has no tokens the model can read")
        if len(offsets) <= self.max_tokens:
            return _Prepared(text)
        cut = offsets[self.max_tokens - 1][1]
        logger.info("text of %d tokens truncated to %d", len(offsets), self.max_tokens)
        return _Prepared(text[:cut], truncated=True)
