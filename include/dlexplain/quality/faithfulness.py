"""Faithfulness of explanations: ERASER comprehensiveness and sufficiency, against random.

Following ERASER (DeYoung et al., ACL 2020) as ferret (Attanasio et al., EACL 2023) computes it,
for the predicted class ``c`` of a text ``x`` with probability ``p(x)``:

- the rationale at ``k`` percent is the top ``ceil(k% * n)`` of the ``n`` tokens by SHAP value for
  ``c``, only tokens with a positive value (a token that lowers ``c`` is no reason for it);
- **comprehensiveness** = mean over k of ``p(x) - p(x without the rationale)`` (higher: the
  tokens the explanation names are the ones the model needs);
- **sufficiency** = mean over k of ``p(x) - p(the rationale alone)`` (lower: they suffice);
- k in ``THRESHOLDS`` (1, 5, 10, 20, 50 %); a rationale equal to the previous one is counted once
  (ferret's rule), so short texts average over fewer points;
- the same with a seeded random ranking of the same sizes: every figure has its floor.

Tokens are removed from the text (the explanation's tokens concatenate back to it) and the result
is classified again, so it works for any tokenizer. About 20 forward passes per text
(5 sizes x 2 metrics x SHAP and random, fewer for short texts), batched over all texts at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from dlexplain.explain.row import Faithfulness, TextExplanation

#: Rationale sizes, in percent of the text's tokens.
THRESHOLDS = (1, 5, 10, 20, 50)
#: Seed of the random ranking (each text starts from it, so a text's figures never depend on
#: what else was in the batch).
SEED = 0


def rationale_sizes(
    n_tokens: int, n_positive: int, thresholds: Sequence[int] = THRESHOLDS
) -> list[int]:
    """Distinct rationale sizes, in threshold order: ``ceil(k% * n)``, at most ``n_positive``."""
    sizes: list[int] = []
    for k in thresholds:
        size = min(max(1, math.ceil(k * n_tokens / 100)), n_positive)
        if size >= 1 and (not sizes or size != sizes[-1]):
            sizes.append(size)
    return sizes


def _perturbations(
    row: TextExplanation,
    rng: np.random.Generator,
    thresholds: Sequence[int],
    names: Sequence[str] = Faithfulness.names(),
) -> dict[str, list[str]] | None:
    """Texts to classify for one row, per figure of ``names``: without / only the rationale,
    for SHAP and random."""
    tokens = row.tokens
    target = row.output_names.index(row.label)
    positions = [i for i, token in enumerate(tokens) if token.strip()]
    values = row.values[:, target]
    ranked = sorted((i for i in positions if values[i] > 0), key=lambda i: -values[i])
    sizes = rationale_sizes(len(positions), len(ranked), thresholds)
    if not sizes:
        return None
    shuffled = [int(i) for i in rng.permutation(positions)]

    def without(chosen: set[int]) -> str:
        return "".join(t for i, t in enumerate(tokens) if i not in chosen)

    def only(chosen: set[int]) -> str:
        return "".join(tokens[i] for i in sorted(chosen))

    texts: dict[str, list[str]] = {name: [] for name in names}
    for size in sizes:
        for prefix, order in (("", ranked), ("random_", shuffled)):
            chosen = set(order[:size])
            for metric, cut in (("comprehensiveness", without), ("sufficiency", only)):
                if prefix + metric in texts:
                    texts[prefix + metric].append(cut(chosen))
    return texts


def _figures(
    rows: Sequence[TextExplanation],
    predict: Callable[[list[str]], np.ndarray],
    thresholds: Sequence[int],
    names: Sequence[str],
) -> list[dict[str, float] | None]:
    """Per row, the figures ``names`` (None for a failed row or one with no token that speaks
    for its class); ``predict`` is called once, on the distinct texts of all rows."""
    plans = [
        _perturbations(row, np.random.default_rng(SEED), thresholds, names) if row.ok else None
        for row in rows
    ]
    unique = list(
        dict.fromkeys(t for plan in plans if plan for texts in plan.values() for t in texts)
    )
    probabilities = dict(zip(unique, predict(unique))) if unique else {}
    results: list[dict[str, float] | None] = []
    for row, plan in zip(rows, plans):
        if plan is None:
            results.append(None)
            continue
        target = row.output_names.index(row.label)
        base = float(row.probabilities[target])
        results.append(
            {
                name: float(np.mean([base - probabilities[t][target] for t in texts]))
                for name, texts in plan.items()
            }
        )
    return results


def faithfulness(
    rows: Sequence[TextExplanation],
    predict: Callable[[list[str]], np.ndarray],
    thresholds: Sequence[int] = THRESHOLDS,
) -> list[Faithfulness | None]:
    """One :class:`Faithfulness` per row (None for a failed row or one with no token that
    speaks for its class); ``predict`` maps texts to class probabilities, called once."""
    return [
        None if f is None else Faithfulness(**f)
        for f in _figures(rows, predict, thresholds, Faithfulness.names())
    ]


def comprehensiveness_gain(
    rows: Sequence[TextExplanation],
    predict: Callable[[list[str]], np.ndarray],
    thresholds: Sequence[int] = THRESHOLDS,
) -> list[float | None]:
    """Per row, its comprehensiveness minus random's (half the forward passes of
    :func:`faithfulness`): above 0, the tokens it names move the prediction more than as many
    random ones; None where :func:`faithfulness` has none."""
    names = ("comprehensiveness", "random_comprehensiveness")
    return [
        None if f is None else f[names[0]] - f[names[1]]
        for f in _figures(rows, predict, thresholds, names)
    ]


def with_faithfulness(
    rows: Sequence[TextExplanation], predict: Callable[[list[str]], np.ndarray]
) -> list[TextExplanation]:
    """``rows`` with their ``faithfulness`` field filled in (see :func:`faithfulness`)."""
    return [replace(row, faithfulness=f) for row, f in zip(rows, faithfulness(rows, predict))]


def summarize(rows: Sequence[TextExplanation]) -> dict[str, float | int]:
    """Means of the rows' faithfulness and the share of texts where SHAP beats random
    (comprehensiveness above random's, sufficiency below it); ``{"faithfulness_texts": 0}`` when
    no row has figures."""
    scored = [row.faithfulness for row in rows if row.faithfulness is not None]
    if not scored:
        return {"faithfulness_texts": 0}
    mean = {
        name: float(np.mean([getattr(f, name) for f in scored])) for name in Faithfulness.names()
    }
    return {
        "faithfulness_texts": len(scored),
        **mean,
        "comprehensiveness_beats_random": float(
            np.mean([f.comprehensiveness > f.random_comprehensiveness for f in scored])
        ),
        "sufficiency_beats_random": float(
            np.mean([f.sufficiency < f.random_sufficiency for f in scored])
        ),
    }
