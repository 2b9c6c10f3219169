"""Explanation drift: tonight's global token ranking against a baseline, with nDCG@k, above the
noise floor of chance.

As SageMaker Clarify compares feature attributions, with tokens for features: the ranking is
tonight's top ``k`` tokens by importance (``dlexplain.quality.importance``); each earns its
importance in the baseline as relevance (a token the baseline never saw earns 0, so only tokens
seen in both count), discounted by ``log2(rank + 1)``; the ideal is the baseline's own top ``k``:

    nDCG = sum(base(t_i) / log2(i + 1) for tonight's t_1..t_k) / the same for the baseline's own

1 means tonight ranks what mattered before in the same order; new tokens at the top or a
reshuffle lower it. A class-wise score is computed for every class; the night's score is the
lowest. Clarify's threshold (0.9) is meant for large samples: with a few dozen texts a night the
ranking moves by chance alone. So a night has drifted only when its score is below ``threshold``
**and** below what chance gives (``dlexplain.quality.chance``: a permutation test, tonight's and
the baseline's texts split at random into the same sizes; the night's p-value below ``alpha``). With
fewer than ``min_texts`` texts tonight or in the baseline the status is ``too_small``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlexplain.base.records import Record
from dlexplain.errors import DataError
from dlexplain.quality.chance import Chance

if TYPE_CHECKING:  # pandas is imported where tables are compared: DAG files read THRESHOLD
    import pandas as pd

#: Tokens compared (nDCG@k, entered/left the top k).
TOP_K = 50
#: Below this the night may have drifted (Clarify's default).
THRESHOLD = 0.9
#: A night has drifted only when chance gives a score as low as its own less often than this.
ALPHA = 0.01
#: Texts needed tonight and in the baseline before drift is judged (``bench/bench_drift.py``).
MIN_TEXTS = 128
#: Draws of the noise floor (p-values in steps of 1 / (DRAWS + 1)).
DRAWS = 499
#: A night's status.
DRIFT, STABLE, TOO_SMALL, NO_BASELINE = "drift", "stable", "too_small", "no_baseline"
#: Tokens seen fewer times than this in a night (or pooled baseline) are not ranked.
MIN_COUNT = 2
#: Largest signed changes reported per class.
CHANGES = 10


@dataclass(frozen=True)
class ClassDrift(Record):
    """How one class's ranking moved."""

    class_name: str
    ndcg: float
    shared_tokens: int
    entered: tuple[str, ...]  #: in tonight's top k, not in the baseline's
    left: tuple[str, ...]  #: in the baseline's top k, not in tonight's
    #: shared tokens with the largest change of mean signed value: token, tonight, baseline
    changes: tuple[tuple[str, float, float], ...]


@dataclass(frozen=True)
class Drift(Record):
    """Tonight against the baseline: the status, the score (lowest class nDCG), the noise floor
    it was judged against (``None`` when too small) and what moved."""

    status: str
    score: float
    threshold: float
    alpha: float
    top_k: int
    min_count: int
    min_texts: int
    texts: int  #: tonight's explained texts
    baseline_texts: int
    baseline_nights: tuple[str, ...]
    chance: Chance | None
    classes: tuple[ClassDrift, ...]

    @property
    def drifted(self) -> bool:
        return self.status == DRIFT

    def to_json_dict(self) -> dict:
        data = super().to_json_dict()
        data["classes"] = [c.to_json_dict() for c in self.classes]
        data["chance"] = None if self.chance is None else self.chance.to_json_dict()
        return data

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Drift:
        values = dict(data)
        values["classes"] = [ClassDrift.from_json_dict(c) for c in data["classes"]]
        values["chance"] = None if data["chance"] is None else Chance.from_json_dict(data["chance"])
        return super().from_json_dict(values)


def _class_drift(
    tonight: pd.DataFrame, baseline: pd.DataFrame, name: str, score: float, k: int, min_count: int
) -> ClassDrift:
    from dlexplain.quality.importance import for_class

    now = for_class(tonight, name, min_count=min_count).set_index("token")
    before = for_class(baseline, name, min_count=min_count).set_index("token")
    top_now, top_before = list(now.index[:k]), list(before.index[:k])
    shared = now.index.intersection(before.index)
    change = now.loc[shared, "mean_value"] - before.loc[shared, "mean_value"]
    largest = change.abs().sort_values(ascending=False, kind="stable").index[:CHANGES]
    return ClassDrift(
        class_name=name,
        ndcg=score,
        shared_tokens=len(shared),
        entered=tuple(t for t in top_now if t not in set(top_before)),
        left=tuple(t for t in top_before if t not in set(top_now)),
        changes=tuple(
            (t, float(now.at[t, "mean_value"]), float(before.at[t, "mean_value"])) for t in largest
        ),
    )


def compare(
    tonight: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    baseline_nights=(),
    k: int = TOP_K,
    threshold: float = THRESHOLD,
    alpha: float = ALPHA,
    min_texts: int = MIN_TEXTS,
    min_count: int = MIN_COUNT,
    draws: int = DRAWS,
    seed: int = 0,
) -> Drift:
    """Drift of ``tonight``'s per-text table against ``baseline``'s (same classes; see
    ``dlexplain.quality.importance.text_tokens``)."""
    import numpy as np

    from dlexplain.quality.chance import (
        TextMatrix,
        chance_scores,
        class_scores,
        summarize,
        vocabulary,
    )
    from dlexplain.quality.importance import aggregate, classes, pool, text_count

    tonight_table, baseline_table = aggregate(tonight), aggregate(baseline)
    names = classes(tonight_table)
    if set(names) != set(classes(baseline_table)):
        raise DataError(
            f"tonight's classes {names} differ from the baseline's "
            f"{classes(baseline_table)}: explanations of different classifiers"
        )
    texts, baseline_texts = text_count(tonight), text_count(baseline)
    both = pool([tonight, baseline])  # tonight's texts first
    matrix = TextMatrix(both, names, vocabulary(both))
    real = np.zeros(matrix.texts)
    real[:texts] = 1.0
    scores = class_scores(matrix, real, k, min_count)
    per_class = tuple(
        _class_drift(tonight_table, baseline_table, name, value, k, min_count)
        for name, value in zip(names, scores)
    )
    lowest = min(scores)
    chance, status = None, TOO_SMALL
    if min(texts, baseline_texts) >= min_texts:
        found = chance_scores(matrix, texts, k=k, min_count=min_count, draws=draws, seed=seed)
        chance = summarize(found, lowest, alpha)
        status = DRIFT if lowest < threshold and chance.p_value < alpha else STABLE
    return Drift(
        status=status,
        score=lowest,
        threshold=threshold,
        alpha=alpha,
        top_k=k,
        min_count=min_count,
        min_texts=min_texts,
        texts=texts,
        baseline_texts=baseline_texts,
        baseline_nights=tuple(baseline_nights),
        chance=chance,
        classes=per_class,
    )
