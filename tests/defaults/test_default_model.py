"""The embedded default model (built once per machine, then cached): accuracy and sanity."""

from __future__ import annotations

import json
import re
import stat

import numpy as np
import pytest

from dlexplain.defaults.model import ACCURACY_FILE, DEFAULT_RECIPE
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer
from tests.checks import assert_additive

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def explainer(default_model):
    classifier = TextClassifier.from_pretrained(default_model.path, device="cpu")
    return Explainer(classifier, ExplainerConfig(max_evals=300, batch_size=64))


def test_recorded_accuracy(default_model):
    report = json.loads((default_model.path / ACCURACY_FILE).read_text())
    assert report["n_eval"] == DEFAULT_RECIPE.n_eval
    assert report["accuracy"] == default_model.accuracy >= 0.85


def test_accuracy_recomputed_on_held_out_reviews(default_model, settings):
    from dlexplain.defaults import load_reviews

    reviews = load_reviews(settings.paths.cache_dir)
    held_out = reviews[reviews["split"] == "eval"].head(300)
    classifier = TextClassifier.from_pretrained(default_model.path, device="cpu",
                                                max_length=DEFAULT_RECIPE.eval_max_length)
    predicted = np.array(classifier.labels)[classifier.predict_proba(held_out["text"]).argmax(1)]
    assert (predicted == held_out["label"].to_numpy()).mean() >= 0.85


def test_files_are_readable_by_other_users(default_model):
    for path in [default_model.path, *default_model.path.rglob("*")]:
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH, f"{path} is not world-readable"


def test_additivity_and_faithfulness_on_16_held_out_reviews(explainer, holdout_reviews):
    """Every explanation adds up (recomputed, within 1e-6), and SHAP's ranking is at least
    twice as comprehensive as a random one (on these 16: 0.30 against 0.058, 2026-12-06;
    ``bench/bench_faithfulness.py`` prints the full figures on more reviews)."""
    from dlexplain.quality.faithfulness import summarize, with_faithfulness

    texts = [t[:200] for t in holdout_reviews["text"].head(16)]
    results = explainer.explain(texts)
    assert [r.error for r in results] == [None] * 16
    assert_additive(results)
    figures = summarize(with_faithfulness(results, explainer.classifier.predict_proba))
    assert figures["faithfulness_texts"] >= 15
    assert figures["comprehensiveness"] >= 2 * figures["random_comprehensiveness"], figures
    assert figures["sufficiency"] < figures["random_sufficiency"], figures


def _words(result, class_name, order):
    column = result.values[:, result.output_names.index(class_name)]
    ranked = np.argsort(column)[::order]
    return [re.sub(r"\W+", "", result.tokens[i]).lower() for i in ranked[:3]]


def test_sanity_positive_review(explainer):
    result = explainer.explain(["What a wonderful, moving film. The acting was superb!"])[0]
    assert result.label == "POSITIVE"
    top = _words(result, "POSITIVE", order=-1)
    assert {"wonderful", "superb"} <= set(top), top


def test_sanity_negative_review(explainer):
    result = explainer.explain(["Dull, predictable and a waste of time."])[0]
    assert result.label == "NEGATIVE"
    bottom = _words(result, "POSITIVE", order=1)
    assert {"dull", "waste"} <= set(bottom), bottom


def test_engine_equals_the_seed_style_explainer(explainer, default_model, holdout_reviews):
    """Same masks, same tie-breaks: lock-step batching changes speed, not values (fp32)."""
    from bench.seed_style import seed_style_values

    texts = [t[:200] for t in holdout_reviews["text"].head(2)]
    reference = seed_style_values(default_model.path, texts, max_evals=300)
    results = explainer.explain(texts)
    for expected, result in zip(reference, results):
        assert result.values.shape == expected.shape
        assert np.max(np.abs(result.values - expected)) <= 1e-3
    alone = [explainer.explain([t])[0] for t in texts[:1]]
    for a, b in zip(alone, results):
        assert np.max(np.abs(a.values - b.values)) <= 1e-3, "a text's values do not depend on its group"
