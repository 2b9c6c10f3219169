"""The explanation engine: shap's Partition explainer over a batched text classifier.

Texts are explained in groups of ``parallel_texts``, their shap loops in lock-step
(``dlexplain.explain.lockstep``) so that each round of model calls is one length-bucketed batch.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from dlexplain.base.bounds import WorkAbandoned, check_bound
from dlexplain.errors import ConfigError
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.masking import is_byte_level, text_masker
from dlexplain.explain.numerics import auto_backend
from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)

_KEEP_CONTROL = {"\t", "\n", "\r"}
#: Seed of the random state each text's shap loop starts from (shap breaks ties at random), so a
#: text's explanation does not depend on what was explained before it.
SEED = 0


def clean_text(raw: object) -> tuple[str | None, str | None]:
    """``(text, None)`` with control characters blanked and ends stripped, or ``(None, error)``
    for an input that is no text (missing, not a string, empty). Needs no model."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None, "text is missing (None/NaN)"
    if not isinstance(raw, str):
        return None, f"text must be a string, got {type(raw).__name__}"
    text = "".join(
        " " if unicodedata.category(c) == "Cc" and c not in _KEEP_CONTROL else c for c in raw
    ).strip()
    if not text:
        return None, "text is empty or whitespace only"
    return text, None


@dataclass(frozen=True)
class Prepared:
    """A text as it will be explained (cleaned, cut to the token limit), or why it cannot be."""

    text: str | None
    truncated: bool = False
    error: str | None = None


def prepare(raw: object, tokenizer, max_tokens: int) -> Prepared:
    """:func:`clean_text`, then cut to ``max_tokens`` tokens (special tokens not counted) at a
    token boundary; every explainer (exact or fast) prepares its texts so."""
    text, error = clean_text(raw)
    if error is not None:
        return Prepared(None, error=error)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        truncation=False, verbose=False)
    offsets = encoded["offset_mapping"]
    if not offsets:
        return Prepared(None, error="text has no tokens the model can read")
    if len(offsets) <= max_tokens:
        return Prepared(text)
    cut = offsets[max_tokens - 1][1]
    logger.info("text of %d tokens truncated to %d", len(offsets), max_tokens)
    return Prepared(text[:cut], truncated=True)


def token_limit(classifier: TextClassifier, max_tokens: int | None) -> int:
    """Tokens an explainer keeps per text: ``max_tokens`` within the model's own limit."""
    limit = classifier.max_length - classifier.num_special_tokens
    return min(max_tokens or limit, limit)


def explain_texts(texts: Sequence[object], tokenizer, max_tokens: int,
                  output_names: Sequence[str],
                  explain_group: Callable[[list[Prepared]], list[TextExplanation]],
                  group_size: int, *, method: str = "exact", by_length: bool = False,
                  progress: bool = False) -> list[TextExplanation]:
    """The loop every explainer shares: :func:`prepare` each text, answer a bad one with an error
    row, explain the rest ``group_size`` at a time (``explain_group``), keep input order.

    A group shares its model calls, so one text whose model call raises fails the group's other
    texts too: each text of a group that failed is explained again alone, and only a text that
    fails alone becomes an error row. ``by_length`` groups texts of near-equal length (less
    padding).
    """
    from tqdm.auto import tqdm

    prepared = [prepare(raw, tokenizer, max_tokens) for raw in texts]
    results: list[TextExplanation | None] = [
        TextExplanation.failed(p.error, output_names, method) if p.error is not None else None
        for p in prepared]
    todo = [i for i, p in enumerate(prepared) if p.error is None]
    if by_length:
        todo.sort(key=lambda i: len(prepared[i].text))

    def isolated(items: list[Prepared]) -> list[TextExplanation]:
        try:
            rows = explain_group(items)
        except WorkAbandoned:
            raise
        except Exception as err:
            logger.warning("explaining %d texts failed", len(items), exc_info=err)
            rows = [TextExplanation.failed(f"explanation failed: {type(err).__name__}: {err}",
                                           output_names, method)] * len(items)
        retry = [k for k, row in enumerate(rows) if not row.ok]
        if len(items) == 1 and retry:
            logger.warning("a text could not be explained: %s", rows[0].error)
        elif retry:
            logger.warning("%d of %d texts of a group failed: explaining each of them alone",
                           len(retry), len(items))
            for k in retry:
                (rows[k],) = isolated([items[k]])
        return rows

    with tqdm(total=len(todo), desc=f"explaining ({method})", unit="text",
              disable=not progress) as bar:
        for start in range(0, len(todo), group_size):
            group = todo[start : start + group_size]
            check_bound()
            for i, row in zip(group, isolated([prepared[i] for i in group])):
                results[i] = row
            bar.update(len(group))
            logger.info("explained %d of %d texts", start + len(group), len(todo))
    failed = sum(not r.ok for r in results)
    logger.info("explained %d texts (%d with errors)", len(results), failed)
    return results


class Explainer:
    """Explains texts with SHAP values per token and class. ``explain`` never drops a row."""

    def __init__(self, classifier: TextClassifier, config: ExplainerConfig | None = None) -> None:
        self.classifier = classifier
        config = config or ExplainerConfig()
        wanted = (auto_backend(classifier.device) if config.backend == "auto"
                  else config.backend)
        if classifier.backend != wanted:
            raise ConfigError(f"the classifier runs backend {classifier.backend!r} but the "
                              f"explainer config asks for {config.backend!r} ({wanted})")
        #: the settings explanations are made with (``auto`` resolved)
        self.config = replace(config, backend=wanted)
        classifier.use_batch_size(self.config.batch_size)
        self.max_tokens = token_limit(classifier, self.config.max_tokens)
        #: masked inputs are token ids (byte-level BPE, ``dlexplain.explain.masking``), not text
        self.masks_token_ids = is_byte_level(classifier.tokenizer)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(self, texts: Sequence[object], *, progress: bool = False) -> list[TextExplanation]:
        """One explanation per input, in input order; bad inputs come back with ``error`` set."""
        return explain_texts(texts, self.classifier.tokenizer, self.max_tokens, self.output_names,
                             self._explain_group, self.config.parallel_texts, progress=progress)

    def _explain_group(self, items: list[Prepared]) -> list[TextExplanation]:
        """Explain texts in lock-step; identical masked inputs are evaluated once per group."""
        import shap

        from dlexplain.explain.lockstep import run_lockstep

        by_ids = self.masks_token_ids
        forward = self.classifier.predict_token_ids if by_ids else self.classifier.predict_proba
        memo: dict[object, np.ndarray] = {}

        def model(masked: list) -> np.ndarray:
            missing = list(dict.fromkeys(t for t in masked if t not in memo))
            if missing:
                memo.update(zip(missing, forward(missing)))
            return np.stack([memo[t] for t in masked])

        def hashable(row) -> object:
            return tuple(int(i) for i in row) if by_ids else str(row)

        def job(text: str):
            def shap_values(call_model):
                explainer = shap.PartitionExplainer(
                    lambda masked: call_model([hashable(row) for row in masked]),
                    text_masker(self.classifier.tokenizer, by_ids),
                    output_names=list(self.output_names),
                )
                return explainer([text], max_evals=self.config.max_evals, silent=True)
            return shap_values

        texts = [item.text for item in items]
        probabilities = self.classifier.predict_proba(texts) if by_ids else model(texts)
        outcomes = run_lockstep([job(item.text) for item in items], model, seed=SEED)
        return [self._to_explanation(o, p, item.truncated)
                for o, p, item in zip(outcomes, probabilities, items)]

    def _to_explanation(self, outcome, probabilities: np.ndarray,
                        truncated: bool) -> TextExplanation:
        if outcome.error is not None:  # an error row: explain_texts tries the text alone
            err = outcome.error
            return TextExplanation.failed(
                f"explanation failed: {type(err).__name__}: {err}", self.output_names
            )
        shap_values = outcome.result
        return TextExplanation.explained(shap_values.data[0], shap_values.values[0],
                                         shap_values.base_values[0], probabilities,
                                         self.output_names, truncated=truncated)
