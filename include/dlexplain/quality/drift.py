"""Explanation drift: tonight's global token ranking against a baseline, with nDCG@k.

As SageMaker Clarify compares feature attributions, with tokens for features: the ranking is
tonight's top ``k`` tokens by importance (``dlexplain.quality.importance``); each earns its
importance in the baseline as relevance (a token the baseline never saw earns 0, so only tokens
seen in both count), discounted by ``log2(rank + 1)``; the ideal is the baseline's own top ``k``:

    nDCG = sum(base(t_i) / log2(i + 1) for tonight's t_1..t_k) / the same for the baseline's own

1 means tonight ranks what mattered before in the same order; new tokens at the top or a
reshuffle lower it. A class-wise score is computed for every class; the night's score is the
lowest, and below ``threshold`` (Clarify: 0.9) the night has drifted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlexplain.base.records import Record
from dlexplain.errors import DataError

if TYPE_CHECKING:  # pandas is imported where tables are compared: DAG files read THRESHOLD
    import pandas as pd

#: Tokens compared (nDCG@k, entered/left the top k).
TOP_K = 50
#: Below this the night has drifted (Clarify's default).
THRESHOLD = 0.9
#: Tokens seen fewer times than this in a night (or pooled baseline) are not ranked.
MIN_COUNT = 2
#: Largest signed changes reported per class.
CHANGES = 10


def ndcg(current: pd.Series, baseline: pd.Series, k: int = TOP_K) -> float:
    """nDCG@k of the ranking ``current`` (token → importance) with ``baseline``'s importance as
    relevance (1.0 when the baseline has nothing to rank)."""

    def dcg(tokens) -> float:
        return sum(float(baseline.get(t, 0.0)) / math.log2(i + 2) for i, t in enumerate(tokens))

    ideal = dcg(baseline.sort_values(ascending=False).index[:k])
    if ideal <= 0:
        return 1.0
    return dcg(current.sort_values(ascending=False).index[:k]) / ideal


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
    """Tonight against the baseline: the score (lowest class nDCG) and what moved."""

    score: float
    threshold: float
    top_k: int
    min_count: int
    baseline_nights: tuple[str, ...]
    classes: tuple[ClassDrift, ...]

    @property
    def drifted(self) -> bool:
        return self.score < self.threshold

    def to_json_dict(self) -> dict:
        data = super().to_json_dict()
        data["classes"] = [c.to_json_dict() for c in self.classes]
        return data

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Drift:
        values = dict(data)
        values["classes"] = [ClassDrift.from_json_dict(c) for c in data["classes"]]
        return super().from_json_dict(values)


def _class_drift(
    tonight: pd.DataFrame, baseline: pd.DataFrame, name: str, k: int, min_count: int
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
        ndcg=ndcg(now["importance"], before["importance"], k),
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
    min_count: int = MIN_COUNT,
) -> Drift:
    """Drift of ``tonight``'s importance table against ``baseline``'s (same classes)."""
    from dlexplain.quality.importance import classes

    names = classes(tonight)
    if set(names) != set(classes(baseline)):
        raise DataError(
            f"tonight's classes {names} differ from the baseline's "
            f"{classes(baseline)}: explanations of different classifiers"
        )
    per_class = tuple(_class_drift(tonight, baseline, name, k, min_count) for name in names)
    return Drift(
        score=min(c.ndcg for c in per_class),
        threshold=threshold,
        top_k=k,
        min_count=min_count,
        baseline_nights=tuple(baseline_nights),
        classes=per_class,
    )
