"""How far a night's token ranking moves by chance alone: the noise floor of explanation drift.

With a few dozen texts a night, the top-k token ranking changes from night to night by chance.
:func:`chance_scores` measures by how much, as a permutation test: were tonight's texts and the
baseline's drawn from one distribution, any split of them into a "tonight" of tonight's size and
a "baseline" of the rest would be as likely as the real one. Seeded draws of such splits are each
scored with the same nDCG@k as tonight (:func:`ndcg_of`, the one nDCG of this package); a night
whose score is lower than nearly every draw's (``p_value`` below ``alpha``) moved more than chance
moves it. The draws have exactly the real comparison's sizes (tonight's n against the baseline's
N), so the floor is neither looser nor stricter than the night it judges.

The per-text tables (``dlexplain.quality.importance.text_tokens``) become sparse matrices (texts
by tokens), so a draw's importance is a sum of rows, not a new table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlexplain.base.records import Record


def ranked(importance: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values (NaN: not ranked), largest first, ties in index order
    (the vocabulary is sorted: ties by token)."""
    valid = np.flatnonzero(~np.isnan(importance))
    if len(valid) > k:
        values = importance[valid]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        valid = valid[values >= kth]
    return valid[np.argsort(-importance[valid], kind="stable")][:k]


def ndcg_of(now: np.ndarray, before: np.ndarray, k: int) -> float:
    """nDCG@k of the ranking ``now`` with ``before`` as relevance, over one vocabulary (NaN: a
    token not ranked on that side; relevance 0 where ``before`` is NaN); 1.0 when ``before``
    has nothing to rank."""
    relevance = np.nan_to_num(before, nan=0.0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    best = ranked(before, k)
    ideal = float((relevance[best] * discounts[: len(best)]).sum())
    if ideal <= 0:
        return 1.0
    order = ranked(now, k)
    return float((relevance[order] * discounts[: len(order)]).sum()) / ideal


class TextMatrix:
    """A per-text table as sparse matrices over a sorted vocabulary: per class, texts by tokens
    of summed |value|; texts by tokens of counts."""

    def __init__(self, texts: pd.DataFrame, classes: list[str], vocabulary: np.ndarray):
        from scipy import sparse

        numbers, _ = pd.factorize(texts["text"], sort=True)
        self.texts = int(numbers.max()) + 1 if len(numbers) else 0
        column = np.searchsorted(vocabulary, texts["token"].to_numpy())
        shape = (self.texts, len(vocabulary))

        def matrix(mask: np.ndarray, values: np.ndarray):
            return sparse.csr_matrix((values[mask], (numbers[mask], column[mask])), shape=shape)

        of_class = texts["class"].to_numpy()
        sums = texts["sum_abs"].to_numpy(dtype=float)
        self.abs = [matrix(of_class == name, sums) for name in classes]
        first = of_class == classes[0]  # a token's count is the same for every class
        self.counts = matrix(first, texts["count"].to_numpy(dtype=float))

    def importance(self, weights: np.ndarray, min_count: int) -> list[np.ndarray]:
        """Per class, the importance of the texts ``weights`` selects (0/1 per text): mean
        |value| per text; NaN for tokens seen fewer than ``min_count`` times."""
        chosen = float(weights.sum())
        seen = self.counts.T @ weights >= min_count
        return [np.where(seen, (a.T @ weights) / chosen, np.nan) for a in self.abs]


def vocabulary(texts: pd.DataFrame) -> np.ndarray:
    """The sorted tokens of a per-text table."""
    return np.unique(texts["token"].to_numpy(dtype=str))


def class_scores(matrix: TextMatrix, weights: np.ndarray, k: int, min_count: int) -> list[float]:
    """Per class, nDCG@k of the texts ``weights`` selects (0/1 per text) ranked against the
    rest of the matrix's texts: tonight's score and every draw's are this one function."""
    return [
        ndcg_of(now, before, k)
        for now, before in zip(
            matrix.importance(weights, min_count), matrix.importance(1.0 - weights, min_count)
        )
    ]


@dataclass(frozen=True)
class Chance(Record):
    """Scores of the draws, summed up."""

    draws: int
    low: float  #: tonight's score must be below this for a p-value below alpha (0: never)
    median: float
    p_value: float  #: (1 + draws scoring at most tonight's score) / (draws + 1)


def chance_scores(
    matrix: TextMatrix, size: int, *, k: int, min_count: int, draws: int, seed: int
) -> np.ndarray:
    """Scores (lowest class nDCG@k) of ``draws`` random splits of the matrix's texts (tonight's
    and the baseline's, pooled) into ``size`` texts ranked against the rest."""
    rng = np.random.default_rng(seed)
    scores = np.empty(draws)
    for i in range(draws):
        weights = np.zeros(matrix.texts)
        weights[rng.choice(matrix.texts, size=size, replace=False)] = 1.0
        scores[i] = min(class_scores(matrix, weights, k, min_count))
    return scores


def summarize(scores: np.ndarray, tonight: float, alpha: float) -> Chance:
    """Where tonight's score falls among the draws' scores. ``low`` is the draws' score that
    tonight's must be below for a p-value below ``alpha``: the two never disagree."""
    ordered = np.sort(scores)
    # p < alpha  <=>  at most m draws score <= tonight  <=>  tonight < ordered[m]
    most = math.ceil(alpha * (len(scores) + 1)) - 2
    return Chance(
        draws=len(scores),
        low=float(ordered[most]) if most >= 0 else 0.0,
        median=float(np.median(scores)),
        p_value=(1 + int((scores <= tonight).sum())) / (len(scores) + 1),
    )
