"""Faithfulness on a model of known behaviour: a planted keyword that alone flips the class."""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer
from dlexplain.explain.row import TextExplanation
from dlexplain.quality.faithfulness import (
    faithfulness,
    rationale_sizes,
    summarize,
    with_faithfulness,
)
from tests.checks import assert_additive
from tests.tiny_model import make_keyword_model

TEXTS = [
    "the film was great and the story moving",
    "a great cast , a dull plot and bad acting in the end",
    "it is great",
    "this movie was good , the acting great , the plot predictable and the time a waste",
    "great fun with the best actor of the story",
    "the worst scene , the best scene : great",
    "love the film , great",
    "a story of time and love , great acting with a good plot",
]


@pytest.fixture(scope="module")
def keyword_rows():
    model, tokenizer = make_keyword_model()
    classifier = TextClassifier(model, tokenizer, batch_size=64, device="cpu")
    rows = Explainer(classifier, ExplainerConfig(max_evals=300)).explain(TEXTS)
    return classifier, rows


def test_the_planted_keyword_flips_the_class(keyword_rows):
    classifier, rows = keyword_rows
    assert_additive(rows)
    assert [r.label for r in rows] == ["POSITIVE"] * len(TEXTS)
    without = classifier.predict_proba([t.replace("great", "") for t in TEXTS])
    assert (without[:, 1] < 0.5).all()
    for row in rows:  # SHAP ranks the keyword first for POSITIVE
        top = int(np.argmax(row.values[:, 1]))
        assert row.tokens[top].strip() == "great", row.tokens


def test_shap_beats_the_random_ranking(keyword_rows):
    classifier, rows = keyword_rows
    figures = faithfulness(rows, classifier.predict_proba)
    for f in figures:
        assert f.comprehensiveness > 0.5 and f.sufficiency < 0.2
    mean = summarize(with_faithfulness(rows, classifier.predict_proba))
    assert mean["faithfulness_texts"] == len(TEXTS)
    assert mean["comprehensiveness"] > mean["random_comprehensiveness"] + 0.3
    assert mean["sufficiency"] < mean["random_sufficiency"] - 0.3
    assert mean["comprehensiveness_beats_random"] >= 0.75
    assert mean["sufficiency_beats_random"] >= 0.75
    # seeded: the same figures again
    assert faithfulness(rows, classifier.predict_proba) == figures


def test_cost_is_about_twenty_forward_passes_a_text(keyword_rows):
    classifier, rows = keyword_rows
    before = classifier.evaluations
    faithfulness(rows, classifier.predict_proba)
    assert classifier.evaluations - before <= 20 * len(rows)


def test_rationale_sizes_follow_erasers_thresholds():
    assert rationale_sizes(100, 100) == [1, 5, 10, 20, 50]
    assert rationale_sizes(100, 7) == [1, 5, 7]  # only positive tokens are a rationale
    assert rationale_sizes(4, 4) == [1, 2]  # equal rationales count once
    assert rationale_sizes(10, 0) == []


def test_rows_without_a_rationale_have_no_figures():
    failed = TextExplanation.failed("text is empty", ("NEGATIVE", "POSITIVE"))
    flat = TextExplanation(tokens=("", "meh", ""), values=np.zeros((3, 2)),
                           base_values=np.array([0.5, 0.5]), probabilities=np.array([0.5, 0.5]),
                           output_names=("NEGATIVE", "POSITIVE"), label="NEGATIVE", score=0.5,
                           additivity_error=0.0)

    def never(texts):
        raise AssertionError(f"nothing to classify, got {texts}")

    assert faithfulness([failed, flat], never) == [None, None]
    assert summarize([failed, flat]) == {"faithfulness_texts": 0}
