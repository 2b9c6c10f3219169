"""Global token importance, pooling and nDCG drift on hand-made explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlexplain.errors import DataError
from dlexplain.explain.row import TextExplanation
from dlexplain.quality.drift import compare, ndcg
from dlexplain.quality.importance import pool, token_importance, top_signed
from dlexplain.quality.report import drift_html

NAMES = ("NEGATIVE", "POSITIVE")


def row(pairs: list[tuple[str, float]]) -> TextExplanation:
    """An explanation whose POSITIVE values are given (NEGATIVE's are their negation)."""
    tokens = ("", *[t for t, _ in pairs], "")
    positive = np.array([0.0, *[v for _, v in pairs], 0.0])
    values = np.stack([-positive, positive], axis=1)
    p = 0.5 + positive.sum()
    return TextExplanation(tokens=tokens, values=values, base_values=np.array([0.5, 0.5]),
                           probabilities=np.array([1 - p, p]), output_names=NAMES,
                           label=NAMES[int(p > 0.5)], score=max(p, 1 - p), additivity_error=0.0)


def night(vocabulary: dict[str, float], texts: int, seed: int) -> list[TextExplanation]:
    """``texts`` explanations of 6 tokens drawn from ``vocabulary`` (token → typical value)."""
    rng = np.random.default_rng(seed)
    words = list(vocabulary)
    return [row([(f"{w} ", vocabulary[w] * rng.uniform(0.8, 1.2))
                 for w in rng.choice(words, size=6)]) for _ in range(texts)]


SHARED = {"the": 0.01, "a": -0.01, "film": 0.02, "and": 0.0}
MOVIES = {**SHARED, "great": 0.3, "superb": 0.25, "boring": -0.3, "awful": -0.28, "plot": 0.05}
PHONES = {**SHARED, "battery": -0.3, "screen": 0.2, "cheap": -0.25, "fast": 0.3, "case": 0.05}


def test_importance_table_counts_and_means():
    table = token_importance([row([("Great ", 0.4), ("film", 0.1)]),
                              row([("great", 0.2), ("dull ", -0.3)]),
                              TextExplanation.failed("empty", NAMES)])
    positive = table[table["class"] == "POSITIVE"].set_index("token")
    assert positive.loc["great", "count"] == 2
    assert positive.loc["great", "mean_value"] == pytest.approx(0.3)
    assert positive.loc["great", "importance"] == pytest.approx(0.3)  # 0.6 over 2 texts
    assert positive.loc["film", "importance"] == pytest.approx(0.05)  # absent from one text
    assert set(positive.index) == {"great", "film", "dull"}  # special tokens left out
    towards, away = top_signed(table, "POSITIVE")
    assert list(towards["token"]) == ["great", "film"] and list(away["token"]) == ["dull"]


def test_pooling_adds_sums_and_counts():
    a = token_importance(night(MOVIES, 10, 0))
    b = token_importance(night(MOVIES, 30, 1))
    pooled = pool([a, b]).set_index(["class", "token"])
    both = token_importance(night(MOVIES, 10, 0) + night(MOVIES, 30, 1)).set_index(
        ["class", "token"])
    pd.testing.assert_frame_equal(pooled.sort_index(), both.sort_index(), check_like=True)


def test_ndcg_is_one_for_the_same_ranking_and_falls_with_new_tokens():
    base = pd.Series({"great": 0.3, "awful": 0.2, "film": 0.1})
    assert ndcg(base, base) == pytest.approx(1.0)
    assert ndcg(pd.Series({"great": 0.1, "awful": 0.2, "film": 0.3}), base) < 0.9
    assert ndcg(pd.Series({"battery": 0.5, "screen": 0.4}), base) == 0.0


def test_same_distribution_is_stable_and_new_vocabulary_drifts():
    baseline = pool([token_importance(night(MOVIES, 40, s)) for s in (0, 1)])
    same = compare(token_importance(night(MOVIES, 40, 2)), baseline, baseline_nights=["d1", "d2"])
    assert not same.drifted and same.score > 0.9
    other = compare(token_importance(night(PHONES, 40, 3)), baseline)
    assert other.drifted and other.score < 0.5
    positive = next(c for c in other.classes if c.class_name == "POSITIVE")
    assert {"battery", "fast"} <= set(positive.entered)
    assert {"great", "awful"} <= set(positive.left)
    # the report names the score and the tokens, and round-trips as JSON
    html = drift_html(other, token_importance(night(PHONES, 40, 3)), baseline, night="d3")
    assert "DRIFT" in html and f"{other.score:.3f}" in html and "battery" in html
    assert type(other).from_json_dict(other.to_json_dict()).score == other.score


def test_other_classes_are_refused():
    table = token_importance(night(MOVIES, 5, 0))
    renamed = table.assign(**{"class": table["class"].str.lower()})
    with pytest.raises(DataError, match="different classifiers"):
        compare(table, renamed)
