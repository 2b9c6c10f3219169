"""Global token importance, pooling, nDCG drift and its noise floor on hand-made explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlexplain.errors import DataError
from dlexplain.explain.row import TextExplanation
from dlexplain.quality.chance import ndcg_of
from dlexplain.quality.drift import compare
from dlexplain.quality.importance import aggregate, pool, text_tokens, token_importance, top_signed
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
    a, b = night(MOVIES, 10, 0), night(MOVIES, 30, 1)
    pooled = aggregate(pool([text_tokens(a), text_tokens(b)])).set_index(["class", "token"])
    both = token_importance(a + b).set_index(["class", "token"])
    pd.testing.assert_frame_equal(pooled.sort_index(), both.sort_index(), check_like=True)


def test_ndcg_is_one_for_the_same_ranking_and_falls_with_new_tokens():
    nan = np.nan
    # vocabulary: awful, battery, film, great, screen
    base = np.array([0.2, nan, 0.1, 0.3, nan])
    assert ndcg_of(base, base, 50) == pytest.approx(1.0)
    assert ndcg_of(np.array([0.2, nan, 0.3, 0.1, nan]), base, 50) < 0.9
    assert ndcg_of(np.array([nan, 0.5, nan, nan, 0.4]), base, 50) == 0.0
    assert ndcg_of(base, np.full(5, nan), 50) == 1.0  # nothing to rank before


def _nights(vocabulary, texts: int, seeds) -> list[pd.DataFrame]:
    return [text_tokens(night(vocabulary, texts, seed)) for seed in seeds]


def test_same_distribution_is_stable_and_new_vocabulary_drifts():
    baseline = pool(_nights(MOVIES, 40, (0, 1)))
    same = compare(text_tokens(night(MOVIES, 40, 2)), baseline, baseline_nights=["d1", "d2"],
                   min_texts=16)
    assert same.status == "stable" and same.score > 0.9 and same.chance.p_value > 0.01
    phones = text_tokens(night(PHONES, 40, 3))
    other = compare(phones, baseline, min_texts=16)
    assert other.status == "drift" and other.score < 0.5 and other.chance.p_value < 0.01
    assert other.chance.low > other.score and other.chance.draws == 499
    positive = next(c for c in other.classes if c.class_name == "POSITIVE")
    assert {"battery", "fast"} <= set(positive.entered)
    assert {"great", "awful"} <= set(positive.left)
    # the report names the status, the score, the chance band, the p-value and the tokens, and
    # round-trips as JSON
    html = drift_html(other, aggregate(phones), aggregate(baseline), night="d3")
    assert "DRIFT" in html and f"{other.score:.3f}" in html and "battery" in html
    assert f"{other.chance.low:.3f}" in html and f"{other.chance.p_value:.3f}" in html
    assert type(other).from_json(other.to_json()).to_json() == other.to_json()


def test_same_distribution_at_the_demo_size_never_drifts():
    """Nights of 8 texts (the demo's) from one distribution: the threshold alone alarms on many
    of 30 pairs; with the noise floor none drifts, whether the sample-size rule applies (too
    small) or not (stable)."""
    pairs = [(text_tokens(night(MOVIES, 8, 1000 + s)), text_tokens(night(MOVIES, 8, 2000 + s)))
             for s in range(30)]
    judged = [compare(a, b) for a, b in pairs]
    assert {d.status for d in judged} == {"too_small"} and all(d.chance is None for d in judged)
    assert sum(d.score < d.threshold for d in judged) >= 6, "the old rule alarms on noise"
    floor = [compare(a, b, min_texts=4) for a, b in pairs]
    assert {d.status for d in floor} == {"stable"}
    # a night of another vocabulary at that size drifts, with a p-value below alpha
    shifted = compare(text_tokens(night(PHONES, 8, 7)), pool([b for _, b in pairs[:10]]),
                      min_texts=4)
    assert shifted.status == "drift" and shifted.chance.p_value < shifted.alpha


def test_threshold_and_alpha_each_decide():
    """A night of 12 texts, 5 of them about phones: nDCG 0.87 with p-value 0.006."""
    baseline = pool(_nights(MOVIES, 40, (0, 1)))
    tonight = text_tokens(night(MOVIES, 7, 5) + night(PHONES, 5, 55))
    drifted = compare(tonight, baseline, min_texts=4)
    assert drifted.status == "drift" and 0.85 < drifted.score < 0.9
    assert 0.005 <= drifted.chance.p_value < 0.01
    assert compare(tonight, baseline, min_texts=4, alpha=0.005).status == "stable"
    assert compare(tonight, baseline, min_texts=4, threshold=0.85).status == "stable"
    assert compare(tonight, baseline, min_texts=13).status == "too_small"


def test_other_classes_are_refused():
    table = text_tokens(night(MOVIES, 5, 0))
    renamed = table.assign(**{"class": table["class"].str.lower()})
    with pytest.raises(DataError, match="different classifiers"):
        compare(table, renamed)


def test_plots_draw_tokens_with_dollar_signs():
    """A sentence holding two ``$`` would be read as (broken) math text by matplotlib."""
    from dlexplain.quality.report import signed_importance_png

    table = token_importance([row([("It cost $x^{2 now$ today. ", 0.3), ("Fine. ", -0.1)])])
    assert signed_importance_png(table, "POSITIVE")[:8] == b"\x89PNG\r\n\x1a\n"
