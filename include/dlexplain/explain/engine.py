"""The explanation engine: shap's Partition explainer over a batched text classifier.

Texts are explained in groups of ``parallel_texts``, their shap loops in lock-step
(``dlexplain.explain.lockstep``) so that each round of model calls is one length-bucketed batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

import numpy as np

from dlexplain.base.bounds import WorkAbandoned, check_bound
from dlexplain.errors import ConfigError
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig, check_granularity
from dlexplain.explain.inputs import Prepared, prepare, token_limit, verified
from dlexplain.explain.masking import choose_masking, text_masker
from dlexplain.explain.numerics import auto_backend
from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)

#: Seed of the random state each text's shap loop starts from (shap breaks ties at random), so a
#: text's explanation does not depend on what was explained before it.
SEED = 0
#: Most seconds of work between two progress lines of :func:`explain_texts`.
PROGRESS_EVERY_S = 30.0


class Progress:
    """Logs texts done at least every ``every`` seconds of work (and at the end): a group of
    texts explained in lock-step ends all at once, after minutes for a large partition."""

    def __init__(self, total: int, method: str, every: float | None = None) -> None:
        self.total, self.method = total, method
        self.every = PROGRESS_EVERY_S if every is None else every
        self.done = 0  #: texts of the groups already ended
        self.start = self.last = time.monotonic()

    def report(self, done_in_group: int = 0, *, force: bool = False) -> None:
        """Log progress if ``every`` seconds went by since the last line (or ``force``)."""
        now = time.monotonic()
        if force or now - self.last >= self.every:
            self.last = now
            logger.info(
                "explained %d of %d texts (%s, %.0f s)",
                self.done + done_in_group,
                self.total,
                self.method,
                now - self.start,
            )


def explain_texts(
    texts: Sequence[object],
    tokenizer,
    max_tokens: int,
    output_names: Sequence[str],
    explain_group: Callable[[list[Prepared], Progress], list[TextExplanation]],
    group_size: int,
    *,
    method: str = "exact",
    by_length: bool = False,
    progress: bool = False,
) -> list[TextExplanation]:
    """The loop every explainer shares: :func:`prepare` each text, answer a bad one with an error
    row, explain the rest ``group_size`` at a time (``explain_group``), keep input order.

    A group shares its model calls, so one text whose model call raises fails the group's other
    texts too: each text of a group that failed is explained again alone, and only a text that
    fails alone becomes an error row. ``by_length`` groups texts of near-equal length (less
    padding). Texts done are logged at least every :data:`PROGRESS_EVERY_S` seconds
    (``explain_group`` reports within its group); ``progress`` also draws a bar.
    """
    from tqdm.auto import tqdm

    prepared = [prepare(raw, tokenizer, max_tokens) for raw in texts]
    results: list[TextExplanation | None] = [
        TextExplanation.failed(p.error, output_names, method) if p.error is not None else None
        for p in prepared
    ]
    todo = [i for i, p in enumerate(prepared) if p.error is None]
    if by_length:
        todo.sort(key=lambda i: len(prepared[i].ready))

    reporter = Progress(len(todo), method)

    def isolated(items: list[Prepared]) -> list[TextExplanation]:
        try:
            rows = explain_group(items, reporter)
        except WorkAbandoned:
            raise
        except Exception as err:
            logger.warning("explaining %d texts failed", len(items), exc_info=err)
            rows = [
                TextExplanation.failed(
                    f"explanation failed: {type(err).__name__}: {err}", output_names, method
                )
            ] * len(items)
        retry = [k for k, row in enumerate(rows) if not row.ok]
        if len(items) == 1 and retry:
            logger.warning("a text could not be explained: %s", rows[0].error)
        elif retry:
            logger.warning(
                "%d of %d texts of a group failed: explaining each of them alone",
                len(retry),
                len(items),
            )
            for k in retry:
                (rows[k],) = isolated([items[k]])
        return rows

    with tqdm(
        total=len(todo), desc=f"explaining ({method})", unit="text", disable=not progress
    ) as bar:
        for start in range(0, len(todo), group_size):
            group = todo[start : start + group_size]
            check_bound()
            for i, row in zip(group, isolated([prepared[i] for i in group])):
                results[i] = verified(row, prepared[i].ready)
            bar.update(len(group))
            reporter.done += len(group)
            reporter.report()
    rows = cast(list[TextExplanation], results)  # each text has its row now: explained or not
    failed = sum(not r.ok for r in rows)
    reporter.report(force=True)
    logger.info("explained %d texts (%d with errors)", len(rows), failed)
    return rows


class Explainer:
    """Explains texts with SHAP values per token and class. ``explain`` never drops a row."""

    def __init__(self, classifier: TextClassifier, config: ExplainerConfig | None = None) -> None:
        self.classifier = classifier
        config = config or ExplainerConfig()
        wanted = auto_backend(classifier.device) if config.backend == "auto" else config.backend
        if classifier.backend != wanted:
            raise ConfigError(
                f"the classifier runs backend {classifier.backend!r} but the "
                f"explainer config asks for {config.backend!r} ({wanted})"
            )
        #: the settings explanations are made with (``auto`` resolved)
        self.config = replace(config, backend=wanted)
        classifier.use_batch_size(self.config.batch_size)
        self.max_tokens = token_limit(classifier, self.config.max_tokens)
        self.config = replace(
            self.config, masking=choose_masking(classifier.tokenizer, self.config.masking).kind
        )

    @property
    def masks_token_ids(self) -> bool:
        """Masked inputs are token ids, not texts (``dlexplain.explain.masking``)."""
        return self.config.masking == "token_ids"

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(
        self, texts: Sequence[object], *, progress: bool = False, granularity: str = "token"
    ) -> list[TextExplanation]:
        """One explanation per input, in input order; bad inputs come back with ``error`` set.
        ``granularity``: the unit of each row's values, ``token`` or a word, sentence or
        paragraph masked as a whole (``dlexplain.explain.units``)."""
        check_granularity(granularity)
        return explain_texts(
            texts,
            self.classifier.tokenizer,
            self.max_tokens,
            self.output_names,
            lambda items, progress: self._explain_group(items, progress, granularity),
            self.config.parallel_texts,
            progress=progress,
        )

    def _masker(self, granularity: str):
        """shap's masker of this explainer's texts at ``granularity``."""
        masker = text_masker(self.classifier.tokenizer, self.masks_token_ids)
        if granularity == "token":
            return masker
        from dlexplain.explain.units import unit_masker

        return unit_masker(masker, granularity)

    def _explain_group(
        self, items: list[Prepared], progress: Progress, granularity: str = "token"
    ) -> list[TextExplanation]:
        """Explain texts in lock-step. Every input is keyed by its token ids (a masked text is
        tokenized as the model reads it), and each distinct key is evaluated once per group:
        the text's probabilities are the very evaluation shap's full coalition gets, so rows
        are additive even where batches change the model's last bits (bf16)."""
        import shap

        from dlexplain.explain.lockstep import run_lockstep

        by_ids = self.masks_token_ids
        tokenizer = self.classifier.tokenizer
        memo: dict[tuple[int, ...], np.ndarray] = {}

        def keys(masked) -> list[tuple[int, ...]]:
            if by_ids:
                return [tuple(int(i) for i in row) for row in masked]
            encoded = tokenizer(
                [str(t) for t in masked], truncation=True, max_length=self.classifier.max_length
            )["input_ids"]
            return [tuple(ids) for ids in encoded]

        def model(masked: list[tuple[int, ...]]) -> np.ndarray:
            missing = list(dict.fromkeys(t for t in masked if t not in memo))
            if missing:
                memo.update(zip(missing, self.classifier.predict_token_ids(missing)))
            return np.stack([memo[t] for t in masked])

        def job(text: str):
            def shap_values(call_model):
                explainer = shap.PartitionExplainer(
                    lambda masked: call_model(keys(masked)),
                    self._masker(granularity),
                    output_names=list(self.output_names),
                )
                return explainer([text], max_evals=self.config.max_evals, silent=True)

            return shap_values

        texts = [item.ready for item in items]
        full = [tuple(ids) for ids in tokenizer(texts)["input_ids"]] if by_ids else keys(texts)
        probabilities = model(full)
        outcomes = run_lockstep(
            [job(item.ready) for item in items], model, seed=SEED, on_round=progress.report
        )
        return [
            self._to_explanation(o, p, item.truncated)
            for o, p, item in zip(outcomes, probabilities, items)
        ]

    def _to_explanation(
        self, outcome, probabilities: np.ndarray, truncated: bool
    ) -> TextExplanation:
        if outcome.error is not None:  # an error row: explain_texts tries the text alone
            err = outcome.error
            return TextExplanation.failed(
                f"explanation failed: {type(err).__name__}: {err}", self.output_names
            )
        shap_values = outcome.result
        return TextExplanation.explained(
            shap_values.data[0],
            shap_values.values[0],
            shap_values.base_values[0],
            probabilities,
            self.output_names,
            truncated=truncated,
        )
