"""The default fast explainer's build, on a small recipe: exact explanations of held-out reviews
through a cache (a rebuild computes none), the reference computed with its own evaluations
(counted), training texts bought by a label budget, a learning curve, the reference scores, a
report, and a network that loads into an additive fast explainer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlexplain.defaults.fast import FastRecipe, build_default_fast, default_fast_dir, recipe_texts
from dlexplain.fast.gate import GateThresholds
from dlexplain.fast.train import TrainingConfig

pytestmark = pytest.mark.slow  # the default model explains 36 short reviews: about a minute

SMALL = FastRecipe(chars=150, n_held_out=8, max_evals=40, reference_max_evals=80,
                   label_evaluations=24 * 30, label_max_evals=30,
                   training=TrainingConfig(epochs=2),
                   thresholds=GateThresholds(min_held_out=8), curve=(0.5, 1.0))


@pytest.fixture
def small_build(settings, default_model):
    yield settings.paths.cache_dir
    shutil.rmtree(default_fast_dir(settings.paths.cache_dir, SMALL), ignore_errors=True)


def test_texts_are_unseen_and_disjoint(settings):
    from dlexplain.defaults import load_reviews

    texts = recipe_texts(settings.paths.cache_dir, SMALL)
    assert SMALL.n_train == 24 and len(texts.held_out) == 8 and len(texts.train) == 24
    assert not set(texts.held_out) & set(texts.train)
    assert all(len(t) <= 150 for t in texts.held_out + texts.train)
    # a budget that buys more texts than the eval split holds goes on into the holdout split
    reviews = load_reviews(settings.paths.cache_dir)
    split = {t[:150]: s for t, s in zip(reviews["text"], reviews["split"])}
    many = recipe_texts(settings.paths.cache_dir, SMALL, n_train=1500)
    assert len(many.train) == len(set(many.train)) == 1500
    assert {split[t] for t in many.held_out} == {"eval"}
    assert {split[t] for t in many.train} == {"eval", "holdout"}


def test_small_recipe_builds_reports_and_rebuilds_from_the_cache(small_build, tmp_path):
    from dlexplain.defaults import default_model_dir
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.fast.explainer import FastExplainer
    from dlexplain.fast.model import AmortizedModel

    cache = tmp_path / "exact.sqlite"  # empty: every evaluation of this build is counted
    first = build_default_fast(small_build, SMALL, force=True, exact_cache=cache)
    report = first.report
    assert first.built_now and first.path == default_fast_dir(small_build, SMALL)
    assert report["figures"]["held_out_texts"] == 8 and report["train_texts"] == 24
    assert report["reference"]["reference_texts"] == 8
    assert report["reference"]["max_evals"] == 80
    # each set was computed with its own evaluations a text, counted as they were spent: the
    # reference rows took more than the held-out rows they judge could (shap's Partition
    # explainer spends up to max_evals; these ~35-token texts need more than 80 to finish)
    sets = report["exact_sets"]
    assert {name: (s["texts"], s["max_evals"], s["computed"]) for name, s in sets.items()} == {
        "held-out": (8, 40, 8), "reference": (8, 80, 8), "training": (24, 30, 24)}
    for s in sets.values():
        assert 0.8 * s["max_evals"] < s["evaluations"] / s["texts"] <= s["max_evals"], sets
    for side in ("fast", "exact"):
        assert -1 <= report["reference"][f"reference_{side}_median_spearman"] <= 1
    assert [p["train_texts"] for p in report["learning_curve"]] == [12, 24]
    assert report["gate"] in ("passed", "failed") and report["backend"] in ("fp32", "bf16")
    assert report["machine"]["torch_threads"] >= 1

    assert not build_default_fast(small_build, SMALL).built_now  # cached
    again = build_default_fast(small_build, SMALL, force=True, exact_cache=cache)
    assert again.report["exact_computed"] == 0, "a rebuild explains nothing again"
    assert all(s["evaluations"] == 0 for s in again.report["exact_sets"].values())

    classifier = TextClassifier.from_pretrained(default_model_dir(small_build), device="cpu")
    fast = FastExplainer(classifier, AmortizedModel.load(again.network))
    (row,) = fast.explain(["A moving, beautifully acted film."])
    assert row.ok and row.method == "fast" and row.additivity_error < 1e-4
    np.testing.assert_allclose(row.base_values + row.values.sum(axis=0), row.probabilities,
                               atol=1e-4)
